// Web UI page load (issue 12): the real `tun sink` with a store of 50,000
// messages (filled through SMTP by smtp-source, as scenario F does), and
// Debian's chromium driven by playwright-core. Measures, on a fresh browser
// context each time (cold cache):
//   - load: navigation start -> the first rows and the count on screen (target < 500 ms),
//     timed inside the page (performance.now() is 0 at navigation start) and,
//     for comparison, as the harness sees it (goto() -> the locator finds them,
//     which adds Playwright's round trips and the new renderer process)
//   - scroll: paging through the list to 5,000 rows; the longest main-thread task
//   - burst: 500 messages in about a second while the list is open; the longest task
// The same page load is measured for MailDev's web UI (the peer the rest of
// the bench runs, from bench/node_modules) over the same store, in the same
// run, and reported as a ratio; --quick measures ours only.
// It writes a section into bench/results.md (between the markers below).
//
//   node bench/ui-load.mjs [--messages N] [--runs N] [--quick] [--no-write]
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import nodemailer from "nodemailer";
import { chromium } from "playwright-core";
import { runSmtpSource } from "./lib/load.mjs";
import { startSystem, unavailableReason } from "./lib/systems.mjs";

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
const STEP_TIMEOUT_MS = 120_000;
/** How often the harness looks for the page's mark (its clock's resolution). */
const WALL_POLL_MS = 10;
/** Fill deadline per message: generous, the machine may be shared (1,400 msgs/s idle, <200 loaded). */
const FILL_MS_PER_MESSAGE = 30;

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const quick = flag("--quick");
const MESSAGES = value("--messages", quick ? 300 : 50_000);
const RUNS = value("--runs", quick ? 1 : 5);
const BURST = quick ? 100 : BURST_MESSAGES;

/**
 * Sends `messages` small messages over `sessions` connections. The full run
 * uses smtp-source (the bench's load generator, installed by
 * `scripts/system-deps.sh --bench`); --quick uses nodemailer, so the smoke run
 * in `npm test` needs nothing beyond the project's own dependencies.
 */
async function send({ port, sessions, messages }) {
  if (!quick) {
    return runSmtpSource({
      port,
      sessions,
      length: FILL_MESSAGE_BYTES,
      messages,
      reuse: true,
      timeoutMs: Math.max(STEP_TIMEOUT_MS, messages * FILL_MS_PER_MESSAGE),
    });
  }
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    pool: true,
    maxConnections: sessions,
  });
  const t0 = Date.now();
  try {
    await Promise.all(
      Array.from({ length: messages }, (_, i) =>
        transport.sendMail({
          from: "load@bench.test",
          to: `${i}rcpt@bench.test`,
          subject: `message ${i}`,
          text: "x".repeat(FILL_MESSAGE_BYTES),
        }),
      ),
    );
    return { ok: true, msgsPerSec: (messages * 1000) / (Date.now() - t0) };
  } catch (err) {
    return { ok: false, error: err.message };
  } finally {
    transport.close();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Longest main-thread task (ms) the page saw since observe() was called. */
const OBSERVE_LONG_TASKS = `(() => {
  window.__longest = 0;
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longest = Math.max(window.__longest, e.duration); })
    .observe({ type: "longtask" });
})()`;

/**
 * How each UI shows its list: a row, and the count, which says the list has
 * loaded once it names every stored message; and the request that fetches it.
 */
const UIS = {
  tun: {
    label: "tun",
    row: "a.row",
    count: '[data-testid="result-count"]',
    countText: (n) => `${n} messages`,
    listRequest: "/api/v1/messages",
  },
  maildev: {
    label: "MailDev 3.0.0",
    row: '[data-testid="email-list-item"]',
    count: '[data-testid="email-count"] span',
    countText: (n) => `${n} emails`,
    listRequest: "/api/email/summary",
  },
};

/**
 * Installed before the page's own scripts: notes performance.now() (time since
 * navigation start) when a row and the full count are both in the DOM.
 */
const markFirstRows = (ui, stored) => `(() => {
  const want = ${JSON.stringify(ui.countText(stored))};
  const done = () =>
    document.querySelector(${JSON.stringify(ui.row)}) &&
    [...document.querySelectorAll(${JSON.stringify(ui.count)})].some((e) => e.textContent.trim() === want);
  const observer = new MutationObserver(() => {
    if (!done()) return;
    window.__firstRowsMs = performance.now();
    observer.disconnect();
  });
  document.addEventListener("DOMContentLoaded", () =>
    observer.observe(document.body, { subtree: true, childList: true, characterData: true }));
})()`;

/** How long the page's first list request took, as the browser timed it. */
const listRequestMs = (ui) => `Math.round(performance.getEntriesByType("resource")
  .find((r) => new URL(r.name).pathname === ${JSON.stringify(ui.listRequest)})?.duration ?? -1)`;

/**
 * Cold page loads of `url` (a fresh context each; the first not counted: it
 * starts chromium's own caches): navigation start to rows and full count, in
 * the page and on the harness's clock. Null when a load shows nothing within
 * STEP_TIMEOUT_MS.
 */
async function measureLoads(browser, url, ui, stored) {
  const loads = [];
  const wallMs = [];
  const apiMs = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      await context.addInitScript(markFirstRows(ui, stored));
      const page = await context.newPage();
      const t0 = Date.now();
      await page.goto(url, { timeout: STEP_TIMEOUT_MS });
      try {
        await page.waitForFunction(() => globalThis.__firstRowsMs !== undefined, null, {
          timeout: STEP_TIMEOUT_MS,
          polling: WALL_POLL_MS,
        });
      } catch {
        const seen = await page.evaluate(
          `[...document.querySelectorAll(${JSON.stringify(ui.count)})].map((e) => e.textContent).join(" | ")`,
        );
        console.error(`ui-load: ${ui.label}: the count shows "${seen}", not "${ui.countText(stored)}"`);
        return null;
      }
      const ms = Date.now() - t0;
      if (i > 0) {
        loads.push(Math.round(await page.evaluate("window.__firstRowsMs")));
        wallMs.push(ms);
        apiMs.push(await page.evaluate(listRequestMs(ui)));
      }
    } finally {
      await context.close();
    }
  }
  return {
    runs: loads.length,
    loadMedianMs: median(loads),
    loadMaxMs: Math.max(...loads),
    wallMedianMs: median(wallMs),
    wallMaxMs: Math.max(...wallMs),
    listRequestMedianMs: median(apiMs),
  };
}

/** MailDev's UI over the same number of messages, or why it was not measured. */
async function measurePeer(browser) {
  const why = unavailableReason("maildev");
  if (why) return { skipped: why };
  const dir = mkdtempSync(join(tmpdir(), "tun-ui-bench-maildev-"));
  const peer = await startSystem("maildev", { workDir: dir });
  try {
    const fill = await send({ port: peer.smtpPort, sessions: FILL_SESSIONS, messages: MESSAGES });
    if (!fill.ok) return { skipped: `fill: ${fill.error}` };
    const loads = await measureLoads(browser, peer.httpUrl, UIS.maildev, MESSAGES);
    return loads ?? { skipped: `no rows and count within ${STEP_TIMEOUT_MS / 1000} s` };
  } finally {
    await peer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const SCROLL_TO_END = `(() => {
  const el = document.querySelector(".list-scroller");
  el.scrollTop = el.scrollHeight;
  return el.scrollHeight / 68;
})()`;

async function main() {
  if (!existsSync(join(ROOT, "sink", "dist", "web", "index.html")) || !existsSync(TUN_BIN)) {
    throw new Error("run `npm run build` first (the UI and the CLI are read from their dist/)");
  }
  // before the bench's own fill and browser add theirs: what else the machine was doing
  const loadBefore = loadavg()[0];
  const dir = mkdtempSync(join(tmpdir(), "tun-ui-bench-"));
  // as the rest of the bench starts it (npm start's Node flags); no pruning: all 50,000 stay
  const sink = await startSystem("tun", { workDir: dir, extraArgs: ["--max-messages", "0"] });
  sink.url = sink.httpUrl;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking"].concat(
      process.getuid?.() === 0 ? ["--no-sandbox"] : [],
    ),
  });
  try {
    const fill = await send({ port: sink.smtpPort, sessions: FILL_SESSIONS, messages: MESSAGES });
    if (!fill.ok) throw new Error(`fill: ${fill.error}`);
    const stored = (await (await fetch(`${sink.url}/api/v1/health`)).json()).messages;

    const ours = await measureLoads(browser, sink.url, UIS.tun, stored);
    if (!ours) throw new Error(`load: no rows and count within ${STEP_TIMEOUT_MS / 1000} s`);

    // scroll: page through the list to SCROLL_ROWS rows, watching for long tasks
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(sink.url);
    await page.locator("a.row").first().waitFor();
    await page.evaluate(OBSERVE_LONG_TASKS);
    const want = Math.min(SCROLL_ROWS, stored);
    const t0 = Date.now();
    for (;;) {
      // rows loaded so far: the list's height over the row height (68 px)
      const rows = await page.evaluate(SCROLL_TO_END);
      if (rows >= want) break;
      if (Date.now() - t0 > STEP_TIMEOUT_MS)
        throw new Error(`scroll: only ${rows} rows after ${STEP_TIMEOUT_MS} ms`);
      await page.waitForTimeout(16); // one frame: let the next page arrive and render
    }
    const scrollMs = Date.now() - t0;
    const scrollLongest = await page.evaluate("window.__longest");

    // burst: the list is at the top again and live
    await page.evaluate('document.querySelector(".list-scroller").scrollTop = 0');
    await page.evaluate(OBSERVE_LONG_TASKS);
    const before = stored;
    const burst = await send({ port: sink.smtpPort, sessions: BURST_SESSIONS, messages: BURST });
    if (!burst.ok) throw new Error(`burst: ${burst.error}`);
    await page.getByText(`${before + BURST} messages`).waitFor({ timeout: STEP_TIMEOUT_MS });
    const burstLongest = await page.evaluate("window.__longest");
    await context.close();

    // the peer after ours, in the same run, each with the machine to itself
    const peer = quick ? { skipped: "--quick" } : await measurePeer(browser);

    const result = {
      loadBefore,
      loadAverage: loadavg()[0],
      cores: availableParallelism(),
      stored,
      ...ours,
      loadTargetMs: LOAD_TARGET_MS,
      scrollRows: want,
      scrollMs,
      scrollLongestTaskMs: Math.round(scrollLongest),
      burstMessages: BURST,
      burstMsgsPerSec: Math.round(burst.msgsPerSec),
      burstLongestTaskMs: Math.round(burstLongest),
      peer,
    };
    console.log(JSON.stringify(result));
    if (!flag("--no-write") && !quick) writeSection(result);
    return result;
  } finally {
    await browser.close();
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** MailDev's figures beside ours, as a ratio (or why it was not measured). */
function peerRows(r) {
  const p = r.peer;
  if (p.skipped) return [`| ${UIS.maildev.label}'s UI, same store | not measured: ${p.skipped} | |`];
  const ratio = (a, b) => `${(a / b).toFixed(1)}×`;
  return [
    `| ${UIS.maildev.label}'s UI, same store and method: in the page (median / max) | ${p.loadMedianMs} / ${p.loadMaxMs} ms, ${ratio(p.loadMedianMs, r.loadMedianMs)} ours | |`,
    `| ${UIS.maildev.label}'s UI on the harness's clock | ${p.wallMedianMs} / ${p.wallMaxMs} ms, ${ratio(p.wallMedianMs, r.wallMedianMs)} ours | |`,
    `| of which its list request (GET /api/email/summary?limit=50, its first page), median | ${p.listRequestMedianMs} ms | |`,
  ];
}

function writeSection(r) {
  const section = [
    SECTION_START,
    "## Web UI page load (`node bench/ui-load.mjs`; issue 12)",
    "",
    `Real \`tun sink\` with ${r.stored.toLocaleString("en-US")} stored messages (1 KiB, filled by smtp-source), Debian's`,
    "chromium via playwright-core, a fresh browser context per load (cold cache), 1280×900.",
    `Machine: ${r.cores} cores, load average ${r.loadBefore.toFixed(1)} before the run and ${r.loadAverage.toFixed(1)} at its end` +
      " (the fill and the browser are the bench's own load)." +
      (r.loadBefore > r.cores
        ? " The machine was overloaded (other work was running): the wall times below are mostly waiting for a" +
          " core, not a reading of the target; run it again on an idle machine."
        : ""),
    `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC.`,
    "",
    "| measure | value | target |",
    "| --- | --- | --- |",
    `| page load: navigation start to first rows and count rendered, timed in the page (median / max of ${r.runs}) | ${r.loadMedianMs} / ${r.loadMaxMs} ms | < ${r.loadTargetMs} ms |`,
    `| the same as the harness sees it: goto() to the rows found (adds Playwright's round trips and a new renderer process) | ${r.wallMedianMs} / ${r.wallMaxMs} ms | |`,
    `| of which the list request (GET /api/v1/messages, first page), median | ${r.listRequestMedianMs} ms | |`,
    ...peerRows(r),
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
