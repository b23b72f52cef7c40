// Web UI page load (issue 12): the real `tun sink` with a store of 50,000
// messages (filled through SMTP by smtp-source, as scenario F does), and
// Debian's chromium driven by playwright-core. Measures, on a fresh browser
// context each time (cold cache):
//   - load: navigation start -> the first rows and the count on screen (target < 500 ms)
//   - scroll: paging through the list to 5,000 rows; the longest main-thread task
//   - burst: 500 messages in about a second while the list is open; the longest task
// and writes a section into bench/results.md (between the markers below).
//
//   node bench/ui-load.mjs [--messages N] [--runs N] [--quick] [--no-write]
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { track } from "./lib/children.mjs";
import { runSmtpSource } from "./lib/load.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TUN_BIN = join(ROOT, "cli", "dist", "cli", "main.js");
const CHROMIUM = process.env.TUN_TEST_CHROMIUM ?? "/usr/bin/chromium";
const RESULTS_MD = join(ROOT, "bench", "results.md");
const SECTION_START = "<!-- ui-load:start -->";
const SECTION_END = "<!-- ui-load:end -->";

/** The target for a page load from 50,000 stored messages. */
const LOAD_TARGET_MS = 500;
const FILL_SESSIONS = 20;
const FILL_MESSAGE_BYTES = 1024;
/** Rows paged in by the scroll measurement. */
const SCROLL_ROWS = 5_000;
/** The burst: this many messages, sent as fast as smtp-source does over these sessions. */
const BURST_MESSAGES = 500;
const BURST_SESSIONS = 10;
const STARTUP_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 120_000;

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const quick = flag("--quick");
const MESSAGES = value("--messages", quick ? 500 : 50_000);
const RUNS = value("--runs", quick ? 1 : 5);

function startSink(dbPath) {
  const child = track(
    spawn(
      process.execPath,
      [
        TUN_BIN,
        "sink",
        "--smtp",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--db",
        dbPath,
        "--max-messages",
        "0",
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } },
    ),
  );
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sink did not start:\n${out}`)), STARTUP_TIMEOUT_MS);
    const check = () => {
      const smtp = /smtp listening on .*:(\d+)$/m.exec(out);
      const http = /http listening on (http:\/\/\S+)$/m.exec(out);
      if (smtp && http && /^\[sink\] database /m.test(out)) {
        clearTimeout(timer);
        resolve({ child, smtpPort: Number(smtp[1]), url: http[1] });
      }
    };
    child.stdout.on("data", check);
    child.once("exit", (code) => reject(new Error(`sink exited ${code}:\n${out}`)));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Longest main-thread task (ms) the page saw since observe() was called. */
const OBSERVE_LONG_TASKS = `(() => {
  window.__longest = 0;
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longest = Math.max(window.__longest, e.duration); })
    .observe({ type: "longtask" });
})()`;

async function main() {
  if (!existsSync(join(ROOT, "sink", "dist", "web", "index.html")) || !existsSync(TUN_BIN)) {
    throw new Error("run `npm run build` first (the UI and the CLI are read from their dist/)");
  }
  const dir = mkdtempSync(join(tmpdir(), "tun-ui-bench-"));
  const sink = await startSink(join(dir, "ui.db"));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking"].concat(
      process.getuid?.() === 0 ? ["--no-sandbox"] : [],
    ),
  });
  try {
    const fill = await runSmtpSource({
      port: sink.smtpPort,
      sessions: FILL_SESSIONS,
      length: FILL_MESSAGE_BYTES,
      messages: MESSAGES,
      reuse: true,
      timeoutMs: Math.max(STEP_TIMEOUT_MS, MESSAGES * 5),
    });
    if (!fill.ok) throw new Error(`fill: ${fill.error}`);
    const stored = (await (await fetch(`${sink.url}/api/v1/health`)).json()).messages;

    const loads = [];
    for (let i = 0; i < RUNS + 1; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const t0 = Date.now();
      await page.goto(sink.url);
      await page.locator("a.row").first().waitFor({ timeout: STEP_TIMEOUT_MS });
      await page.getByText(`${stored.toLocaleString("en-US").replace(/,/g, "")} messages`).waitFor();
      const ms = Date.now() - t0;
      if (i > 0) loads.push(ms); // the first load also starts chromium's own caches: not counted
      await context.close();
    }

    // scroll: page through the list to SCROLL_ROWS rows, watching for long tasks
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(sink.url);
    await page.locator("a.row").first().waitFor();
    await page.evaluate(OBSERVE_LONG_TASKS);
    const want = Math.min(SCROLL_ROWS, stored);
    const t0 = Date.now();
    for (;;) {
      const rows = await page.evaluate(() => {
        const el = document.querySelector(".list-scroller");
        el.scrollTop = el.scrollHeight;
        return el.scrollHeight / 68;
      });
      if (rows >= want) break;
      if (Date.now() - t0 > STEP_TIMEOUT_MS)
        throw new Error(`scroll: only ${rows} rows after ${STEP_TIMEOUT_MS} ms`);
      await page.waitForTimeout(16); // one frame: let the next page arrive and render
    }
    const scrollMs = Date.now() - t0;
    const scrollLongest = await page.evaluate(() => window.__longest);

    // burst: the list is at the top again and live
    await page.evaluate(() => {
      document.querySelector(".list-scroller").scrollTop = 0;
    });
    await page.evaluate(OBSERVE_LONG_TASKS);
    const before = stored;
    const burst = await runSmtpSource({
      port: sink.smtpPort,
      sessions: BURST_SESSIONS,
      length: FILL_MESSAGE_BYTES,
      messages: BURST_MESSAGES,
      reuse: true,
      timeoutMs: STEP_TIMEOUT_MS,
    });
    if (!burst.ok) throw new Error(`burst: ${burst.error}`);
    await page.getByText(`${before + BURST_MESSAGES} messages`).waitFor({ timeout: STEP_TIMEOUT_MS });
    const burstLongest = await page.evaluate(() => window.__longest);
    await context.close();

    const result = {
      stored,
      runs: loads.length,
      loadMedianMs: median(loads),
      loadMaxMs: Math.max(...loads),
      loadTargetMs: LOAD_TARGET_MS,
      scrollRows: want,
      scrollMs,
      scrollLongestTaskMs: Math.round(scrollLongest),
      burstMessages: BURST_MESSAGES,
      burstMsgsPerSec: Math.round(burst.msgsPerSec),
      burstLongestTaskMs: Math.round(burstLongest),
    };
    console.log(JSON.stringify(result));
    if (!flag("--no-write") && !quick) writeSection(result);
    return result;
  } finally {
    await browser.close();
    sink.child.kill("SIGTERM");
    await new Promise((r) => sink.child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeSection(r) {
  const section = [
    SECTION_START,
    "## Web UI page load (`node bench/ui-load.mjs`; issue 12)",
    "",
    `Real \`tun sink\` with ${r.stored.toLocaleString("en-US")} stored messages (1 KiB, filled by smtp-source), Debian's`,
    "chromium via playwright-core, a fresh browser context per load (cold cache), 1280×900.",
    "",
    "| measure | value | target |",
    "| --- | --- | --- |",
    `| page load: navigation to first rows and count shown (median / max of ${r.runs}) | ${r.loadMedianMs} / ${r.loadMaxMs} ms | < ${r.loadTargetMs} ms |`,
    `| scroll: paging to ${r.scrollRows.toLocaleString("en-US")} rows | ${r.scrollMs} ms, longest task ${r.scrollLongestTaskMs} ms | no freeze |`,
    `| burst: ${r.burstMessages} messages at ${r.burstMsgsPerSec} msgs/s into the open list | longest task ${r.burstLongestTaskMs} ms | no lock-up |`,
    SECTION_END,
  ].join("\n");
  const md = existsSync(RESULTS_MD) ? readFileSync(RESULTS_MD, "utf8") : "";
  const start = md.indexOf(SECTION_START);
  const end = md.indexOf(SECTION_END);
  const next =
    start >= 0 && end > start
      ? md.slice(0, start) + section + md.slice(end + SECTION_END.length)
      : `${md.trimEnd()}\n\n${section}\n`;
  writeFileSync(RESULTS_MD, next);
}

main().catch((err) => {
  console.error(`ui-load: ${err.message}`);
  process.exit(1);
});
