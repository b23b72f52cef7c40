#!/usr/bin/env node
// `npm run bench`: prepares the machine, runs scenarios A–G of issue 7 against
// our sink, Postfix's smtp-sink and MailDev side by side on loopback, and
// writes bench/results.md and bench/results.json. See bench/README.md.
//
//   npm run bench                  A–E and G, 3 runs each (F only with --scale)
//   npm run bench -- --scale       also F at 1,000,000 stored messages (long)
//   npm run bench -- --quick       smoke run: small sizes, 1 run, small F; results to bench/work/quick/
//   npm run bench -- --profile     scenario A once against our sink under node --cpu-prof, top costs printed
//                                  (--profile --only B, --only C for 1 MiB messages with -d, --only E,
//                                  --only F: the restart-and-prune phase of F, sized by --quick/--scale-messages)
// Other flags: --runs N, --only A,B,C,D,E,F,G, --systems tun,smtp-sink,maildev,smtp-floor,
//              --scale-messages N (F at another size), --no-prepare, --no-build,
//              --keep (keep work dirs), --out DIR, and for our sink only
//              --sink-args="--parse-workers 0", --sink-node-args=--max-semi-space-size=2
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cliStartRun } from "./lib/cli-start.mjs";
import { describeLatencyLoad, latencyRun } from "./lib/latency.mjs";
import { prepare } from "./lib/prepare.mjs";
import { longestBusyStretches, summarizeByArea, summarizeProfile } from "./lib/profile-summary.mjs";
import { renderMarkdown, summarize, writeResults } from "./lib/report.mjs";
import { scaleRun } from "./lib/scale.mjs";
import { BENCH_ROOT, REPO_ROOT, SYSTEM_NAMES, startSystem, unavailableReason } from "./lib/systems.mjs";
import { throughputRun } from "./lib/throughput.mjs";

const MB = 1024 * 1024;
const STARTED = Date.now();
/** Progress line with the seconds since the harness started. */
function progress(line) {
  console.log(`[bench +${Math.round((Date.now() - STARTED) / 1000)}s] ${line}`);
}
/** Upper bound for one smtp-source run (MailDev at ~150 msgs/s needs ~2.5 min for A). */
const LOAD_TIMEOUT_MS = 15 * 60_000;

const SIZES = {
  full: {
    runs: 3,
    A: { sessions: 20, length: 10240, messages: 20000 },
    B: { sessions: 20, length: 10240, messages: 20000, reuse: true },
    C: { sessions: 4, length: 1048576, messages: 200 },
    Cd: { sessions: 4, length: 1048576, messages: 200, reuse: true },
    idleSettleMs: 3000,
    latency: { durationS: 20, rate: 500 },
    scale: { messages: 1_000_000, prune: 100_000, pruneDeadlineS: 300 },
    cliRepeats: 20,
  },
  quick: {
    runs: 1,
    A: { sessions: 20, length: 10240, messages: 500 },
    B: { sessions: 20, length: 10240, messages: 1000, reuse: true },
    C: { sessions: 4, length: 1048576, messages: 12 },
    Cd: { sessions: 4, length: 1048576, messages: 12, reuse: true },
    idleSettleMs: 500,
    latency: { durationS: 2, rate: 500 },
    scale: { messages: 2000, prune: 200, pruneDeadlineS: 20 },
    cliRepeats: 5,
  },
};

const TITLES = {
  A: "A: new connection per message",
  B: "B: connection reuse (-d)",
  C: "C: 1 MiB messages",
  Cd: "C: 1 MiB messages, reuse (-d)",
};

function loadString(l) {
  return `smtp-source -s ${l.sessions} -l ${l.length} -m ${l.messages}${l.reuse ? " -d" : ""}`;
}

function parse() {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      scale: { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
      runs: { type: "string" },
      "scale-messages": { type: "string" },
      "sink-args": { type: "string" },
      "sink-node-args": { type: "string" },
      only: { type: "string" },
      systems: { type: "string" },
      "no-prepare": { type: "boolean", default: false },
      "no-build": { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      out: { type: "string" },
    },
  });
  const only = new Set((values.only ?? "A,B,C,D,E,F,G").split(",").map((x) => x.trim().toUpperCase()));
  const systems = values.systems ? values.systems.split(",").map((x) => x.trim()) : SYSTEM_NAMES;
  for (const s of systems)
    if (!SYSTEM_NAMES.includes(s)) throw new Error(`--systems: unknown ${s} (${SYSTEM_NAMES})`);
  return { ...values, only, systems };
}

function words(text) {
  return text ? text.trim().split(/\s+/) : [];
}

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, {
      cwd: REPO_ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "unknown";
  }
}

function machine() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const dirty = sh("git", ["status", "--porcelain", "--", "sink", "cli", "protocol", "client"]);
  return {
    date: new Date().toISOString(),
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown CPU",
    cores: cpus().length,
    memGiB: totalmem() / 1024 ** 3,
    node: process.version,
    postfix: sh("dpkg-query", ["-W", "-f=${Version}", "postfix"]),
    maildev: (() => {
      try {
        return JSON.parse(readFileSync(join(BENCH_ROOT, "node_modules/maildev/package.json"), "utf8"))
          .version;
      } catch {
        return "not installed";
      }
    })(),
    commit:
      sh("git", ["rev-parse", "--short", "HEAD"]) +
      (dirty && dirty !== "unknown" ? " + uncommitted changes" : ""),
    loadBefore: loadavg()
      .map((x) => x.toFixed(2))
      .join(" "),
    command: `npm run bench -- ${process.argv
      .slice(2)
      .map((a) => (/\s/.test(a) ? JSON.stringify(a) : a))
      .join(" ")}`.trim(),
  };
}

function fmtRun(r) {
  if (!r.ok) return `FAILED: ${r.error}`;
  const parts = [];
  if (r.msgsPerSec) parts.push(`${Math.round(r.msgsPerSec).toLocaleString("en-US")} msgs/s`);
  if (r.cpuMsPerMsg) parts.push(`${r.cpuMsPerMsg.toFixed(3)} CPU ms/msg`);
  if (r.idleRss) parts.push(`idle ${(r.idleRss / MB).toFixed(0)} MB`);
  if (r.smtpRttMs)
    parts.push(`250 p50 ${r.smtpRttMs.p50?.toFixed(2)} ms p99 ${r.smtpRttMs.p99?.toFixed(2)} ms`);
  if (r.streamMs) parts.push(`stream p50 ${r.streamMs.p50?.toFixed(2)} p99 ${r.streamMs.p99?.toFixed(2)} ms`);
  if (r.waitMs) parts.push(`wait p99 ${r.waitMs.p99?.toFixed(2)} ms`);
  if (r.backgroundMsgsPerSec) parts.push(`background ${Math.round(r.backgroundMsgsPerSec)} msgs/s`);
  if (r.streamDrainMs !== undefined) parts.push(`stream drained +${r.streamDrainMs} ms`);
  if (r.peakRss) parts.push(`peak ${(r.peakRss / MB).toFixed(0)} MB`);
  if (r.warning) parts.push(`WARNING ${r.warning}`);
  return parts.join(", ");
}

async function main() {
  const opts = parse();
  const sizes = JSON.parse(JSON.stringify(opts.quick ? SIZES.quick : SIZES.full));
  if (opts.runs) sizes.runs = Number(opts.runs);
  if (opts["scale-messages"]) {
    // F at another size; pruning keeps the issue's proportion (a tenth of the store).
    sizes.scale.messages = Number(opts["scale-messages"]);
    sizes.scale.prune = Math.round(sizes.scale.messages / 10);
  }
  if (!opts["no-prepare"]) prepare({ build: !opts["no-build"] });

  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const workRoot = join(BENCH_ROOT, "work", stamp);
  mkdirSync(workRoot, { recursive: true });
  let seq = 0;
  const problems = [];
  let failedRuns = 0;
  const ctx = {
    sizes,
    loadTimeoutMs: LOAD_TIMEOUT_MS,
    nodeArgs: words(opts["sink-node-args"]),
    sinkArgs: words(opts["sink-args"]),
    start: (system, workDir, o = {}) =>
      startSystem(system, {
        workDir,
        ...o,
        // Flags for our sink only: --sink-args="--parse-workers 0", --sink-node-args=--max-semi-space-size=2.
        nodeArgs: system === "tun" ? [...ctx.nodeArgs, ...(o.nodeArgs ?? [])] : [],
        extraArgs: system === "tun" ? [...ctx.sinkArgs, ...(o.extraArgs ?? [])] : [],
      }),
  };

  /** Runs fn in a fresh work dir; databases go, logs stay when the run failed or --keep. */
  async function inWorkDir(label, fn) {
    const dir = join(workRoot, `${String(++seq).padStart(3, "0")}-${label}`);
    mkdirSync(dir, { recursive: true });
    let r;
    try {
      r = await fn(dir);
    } catch (e) {
      r = { ok: false, error: e.message };
    }
    if (!r.ok) {
      failedRuns++;
      problems.push(`${label}: ${r.error} (logs in ${dir})`);
    } else if (r.warning) problems.push(`${label}: ${r.warning}`);
    if (opts.keep) return r;
    if (r.ok) rmSync(dir, { recursive: true, force: true });
    else for (const f of readdirSync(dir)) if (f.includes(".db")) rmSync(join(dir, f), { force: true });
    return r;
  }

  const unavailable = {};
  const systems = opts.systems.filter((s) => {
    const why = unavailableReason(s);
    if (why) unavailable[s] = why;
    return !why;
  });

  if (opts.profile) return profileRun(ctx, sizes, inWorkDir, workRoot, opts.only);

  const meta = { ...machine(), quick: opts.quick, runs: sizes.runs };
  progress(`${opts.quick ? "quick" : "full"} run, systems: ${systems.join(", ")}; load ${meta.loadBefore}`);
  const results = { meta, sizes, systems, unavailable, throughput: {}, problems };
  const rotated = (r) => systems.map((_, i) => systems[(i + r) % systems.length]);

  for (const key of ["A", "B", "C", "Cd"]) {
    if (!opts.only.has(key[0])) continue;
    // D idle is measured at the start of every A run, before the load.
    const scenario = { load: sizes[key], measureIdle: key === "A" && opts.only.has("D") };
    const entry = {
      title: TITLES[key],
      load: loadString(sizes[key]),
      runs: Object.fromEntries(systems.map((s) => [s, []])),
    };
    results.throughput[key] = entry;
    for (let r = 0; r < sizes.runs; r++) {
      for (const sys of rotated(r)) {
        const res = await inWorkDir(`${key}-${r + 1}-${sys}`, (dir) =>
          throughputRun(ctx, sys, scenario, dir),
        );
        res.system = sys;
        entry.runs[sys].push(res);
        progress(`${key} run ${r + 1}/${sizes.runs} ${sys}: ${fmtRun(res)}`);
      }
    }
  }

  if (opts.only.has("E")) {
    results.latency = {
      load: describeLatencyLoad(sizes.latency),
      runs: Object.fromEntries(systems.map((s) => [s, []])),
    };
    for (let r = 0; r < sizes.runs; r++) {
      for (const sys of rotated(r)) {
        const res = await inWorkDir(`E-${r + 1}-${sys}`, (dir) => latencyRun(ctx, sys, r, dir));
        results.latency.runs[sys].push(res);
        progress(`E run ${r + 1}/${sizes.runs} ${sys}: ${fmtRun(res)}`);
      }
    }
  }

  if (opts.only.has("F") && (opts.scale || opts.quick) && systems.includes("tun")) {
    progress(`F: filling our sink with ${sizes.scale.messages.toLocaleString("en-US")} messages`);
    results.scale = await inWorkDir("F-tun", (dir) => scaleRun(ctx, dir));
    const q = results.scale.queries;
    progress(
      `F: ${results.scale.ok ? "" : `FAILED: ${results.scale.error}; `}fill ${Math.round(results.scale.fillMsgsPerSec ?? 0)} msgs/s` +
        (q
          ? `, by recipient p50 ${q.byRecipient.p50?.toFixed(1)} ms, full-text p50 ${q.fullText.p50?.toFixed(1)} ms`
          : "") +
        (results.scale.pruning
          ? `, max 250 while pruning ${results.scale.pruning.maxRttMs?.toFixed(1)} ms`
          : ""),
    );
  } else if (opts.only.has("F")) {
    progress("F skipped (needs --scale, or --quick for a small one)");
  }

  if (opts.only.has("G") && systems.includes("tun")) {
    results.cli = await inWorkDir("G-tun", (dir) => cliStartRun(ctx, dir));
    if (results.cli.help) {
      progress(
        `G: node -e 0 ${results.cli.node.ms.median.toFixed(0)} ms, tun --help ${results.cli.help.ms.median.toFixed(0)} ms, ` +
          `tun mail ls ${results.cli.mailLs.ms.median.toFixed(0)} ms${results.cli.mailLs.ok ? "" : ` (${results.cli.mailLs.error})`}`,
      );
    }
  }

  meta.loadAfter = loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
  results.summary = summarize(results);
  const outDir = opts.out ?? (opts.quick ? join(BENCH_ROOT, "work", "quick") : BENCH_ROOT);
  mkdirSync(outDir, { recursive: true });
  writeResults(results, outDir);
  if (!opts.keep) rmSync(workRoot, { recursive: true, force: true, maxRetries: 2 });
  console.log("\n" + renderMarkdown(results).slice(renderMarkdown(results).indexOf("## Targets")));
  console.log(`[bench] wrote ${outDir}/results.md and results.json`);
  // A missed target is a result; a run that could not be measured is a failure.
  if (failedRuns > 0) {
    console.error(`[bench] ${failedRuns} run(s) failed; see "Failed runs" in results.md`);
    process.exitCode = 1;
  }
}

/** --profile: one scenario (A, or the first of --only A|B|C|E|F; C means C with -d) against our sink under --cpu-prof. */
async function profileRun(ctx, sizes, inWorkDir, workRoot, only) {
  const key = ["A", "B", "C", "E", "F"].find((k) => only.has(k)) ?? "A";
  const profDir = join(workRoot, "profiles");
  mkdirSync(profDir, { recursive: true });
  const profArgs = ["--cpu-prof", "--cpu-prof-dir", profDir];
  if (key === "F") ctx.pruneNodeArgs = profArgs;
  else ctx.nodeArgs = [...ctx.nodeArgs, ...profArgs];
  const load =
    key === "E"
      ? describeLatencyLoad(sizes.latency)
      : key === "F"
        ? `restart and prune phase of F at ${sizes.scale.messages} messages`
        : loadString(sizes[key === "C" ? "Cd" : key]);
  progress(`profile: scenario ${key} (${load}) against our sink under --cpu-prof`);
  const res = await inWorkDir(`profile-${key}-tun`, (dir) =>
    key === "E"
      ? latencyRun(ctx, "tun", 0, dir)
      : key === "F"
        ? scaleRun(ctx, dir)
        : throughputRun(ctx, "tun", { load: sizes[key === "C" ? "Cd" : key] }, dir),
  );
  if (key === "F" && res.pruning) progress(`profile: pruning ${JSON.stringify(res.pruning)}`);
  progress(`profile: ${fmtRun(res)}`);
  for (const f of readdirSync(profDir).filter((x) => x.endsWith(".cpuprofile"))) {
    const path = join(profDir, f);
    const { totalMs, top } = summarizeProfile(path, 30);
    console.log(`\n[bench] profile ${path}: ${totalMs.toFixed(0)} ms sampled; top self time:`);
    for (const r of top)
      console.log(`${(r.share * 100).toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.fn}`);
    console.log("longest busy stretches (the thread never idle):");
    for (const b of longestBusyStretches(path)) {
      console.log(`${b.ms.toFixed(0).padStart(6)} ms at +${b.atMs.toFixed(0)} ms: ${b.top.join(", ")}`);
    }
    console.log("by area:");
    for (const r of summarizeByArea(path).slice(0, 15)) {
      console.log(`${(r.share * 100).toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.area}`);
    }
  }
  console.log(`\n[bench] profiles kept in ${profDir} (open in Chrome DevTools > Performance)`);
}

main().catch((e) => {
  console.error(`[bench] ${e.message}`);
  process.exit(1);
});
