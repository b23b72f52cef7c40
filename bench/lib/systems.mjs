// The systems under test (and one reference), each started as its own process on loopback
// with stdout to a log file (a sink logging 20,000 lines into a pipe the
// harness must drain would charge the harness's CPU to the measurement):
//   tun       our sink as `npm start` runs it (`node [its flags] cli/dist/cli/main.js sink`)
//             with a fresh SQLite file
//   smtp-sink Postfix's C sink that discards mail (upper bound for SMTP handling)
//   maildev   MailDev from bench/node_modules (the most-used Node sink)
//   smtp-floor tun's SMTP layer alone, no parsing or storage (lib/smtp-floor.mjs):
//             a reference for how much of the gap is the library, not the pipeline
/* global AbortController -- Node 20 global, not in the shared eslint globals list */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, statSync } from "node:fs";
import { createServer, connect } from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { track } from "./children.mjs";
import { cpuTimeMs } from "./cpu.mjs";
import { currentRss, peakRss } from "./memory.mjs";

export const REPO_ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const BENCH_ROOT = join(REPO_ROOT, "bench");
const TUN_MAIN = join(REPO_ROOT, "cli/dist/cli/main.js");
const MAILDEV_MAIN = join(BENCH_ROOT, "node_modules/maildev/dist/bin/maildev.js");
const SMTP_SINK_BIN = "/usr/sbin/smtp-sink";
const SMTP_FLOOR_MAIN = join(BENCH_ROOT, "lib/smtp-floor.mjs");

/**
 * Node flags of `npm start` (the README's command for the sink), so the bench
 * measures the sink as users start it: "node FLAGS… cli/dist/cli/main.js sink".
 */
function startScriptNodeArgs() {
  const start = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts?.start ?? "";
  const words = start.trim().split(/\s+/);
  const main = words.indexOf("cli/dist/cli/main.js");
  if (words[0] !== "node" || main < 0 || words[main + 1] !== "sink")
    throw new Error(`package.json "start" is not "node [flags] cli/dist/cli/main.js sink": ${start}`);
  return words.slice(1, main);
}
const START_NODE_ARGS = startScriptNodeArgs();

/** How long a system may take from spawn to answering SMTP. */
const STARTUP_TIMEOUT_MS = 30_000;
/** How long a system may take to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 15_000;
const POLL_INTERVAL_MS = 20;
/** How long one readiness probe waits for the 220 greeting. */
const GREETING_TIMEOUT_MS = 2000;
/** smtp-sink's listen backlog: deep enough for 20 connect-per-message sessions. */
const SMTP_SINK_BACKLOG = 1024;

export const SYSTEM_NAMES = ["tun", "smtp-sink", "maildev", "smtp-floor"];
export const SYSTEM_LABELS = {
  tun: "tun sink",
  "smtp-sink": "Postfix smtp-sink",
  maildev: "MailDev",
  "smtp-floor": "tun's SMTP layer alone",
};

/** Why a system cannot run on this machine, or null when it can. */
export function unavailableReason(name) {
  if (name === "tun" && !existsSync(TUN_MAIN)) return `${TUN_MAIN} missing (run npm run build)`;
  if (name === "maildev" && !existsSync(MAILDEV_MAIN))
    return `${MAILDEV_MAIN} missing (npm install --prefix bench)`;
  if (name === "smtp-sink" && !existsSync(SMTP_SINK_BIN)) return `${SMTP_SINK_BIN} missing (postfix package)`;
  if (name === "smtp-floor" && !existsSync(TUN_MAIN)) return `${TUN_MAIN} missing (run npm run build)`;
  return null;
}

export async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function tail(path, lines = 15) {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}

/** One try: does a TCP connection to port get an SMTP 220 greeting? */
function greetsOnce(port) {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    let buf = "";
    const done = (v) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(GREETING_TIMEOUT_MS, () => done(false));
    sock.on("error", () => done(false));
    sock.on("data", (d) => {
      buf += d;
      if (buf.includes("\n")) done(buf.startsWith("220"));
    });
  });
}

function launch(name, cmd, args, logPath, env) {
  const fd = openSync(logPath, "a");
  const child = track(
    spawn(cmd, args, {
      cwd: REPO_ROOT,
      stdio: ["ignore", fd, fd],
      env: { ...process.env, ...env },
    }),
  );
  closeSync(fd);
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  let hasExited = false;
  exited.then(() => (hasExited = true));
  return { child, exited, hasExited: () => hasExited, name };
}

/** Waits for `ready()` to return a value, failing early if the process dies. */
async function waitReady(proc, logPath, ready, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.hasExited()) throw new Error(`${proc.name} exited during startup:\n${tail(logPath)}`);
    const value = await ready(deadline);
    if (value) return value;
    await sleep(POLL_INTERVAL_MS);
  }
  proc.child.kill("SIGKILL");
  throw new Error(`${proc.name} did not become ready within ${timeoutMs} ms:\n${tail(logPath)}`);
}

function running(proc, logPath, smtpPort, httpUrl, startedMs, extra = {}) {
  const pid = proc.child.pid;
  return {
    name: proc.name,
    pid,
    smtpPort,
    httpUrl,
    logPath,
    startupMs: startedMs,
    ...extra,
    peakRss: () => peakRss(pid),
    cpuTimeMs: () => cpuTimeMs(pid),
    currentRss: () => currentRss(pid),
    exited: proc.exited,
    async stop() {
      if (!proc.hasExited()) proc.child.kill("SIGTERM");
      const grace = new AbortController();
      const timer = sleep(STOP_GRACE_MS, "timeout", { signal: grace.signal }).catch(() => "cancelled");
      const outcome = await Promise.race([proc.exited, timer]);
      grace.abort(); // a pending grace timer would keep the harness alive after its last run
      if (outcome === "timeout") {
        proc.child.kill("SIGKILL");
        await proc.exited;
        return { killed: true };
      }
      return { killed: false };
    },
  };
}

async function startTun({ workDir, dbPath, extraArgs = [], nodeArgs = [], timeoutMs = STARTUP_TIMEOUT_MS }) {
  const logPath = join(workDir, "tun.log");
  const db = dbPath ?? join(workDir, "sink.db");
  // A restart appends to the same log: read only what this process prints.
  const logStart = existsSync(logPath) ? statSync(logPath).size : 0;
  const t0 = performance.now();
  const proc = launch(
    "tun",
    process.execPath,
    [
      ...START_NODE_ARGS,
      ...nodeArgs,
      TUN_MAIN,
      "sink",
      "--smtp",
      "127.0.0.1:0",
      "--http",
      "127.0.0.1:0",
      "--db",
      db,
      ...extraArgs,
    ],
    logPath,
    { NO_COLOR: "1" },
  );
  const ports = await waitReady(
    proc,
    logPath,
    () => {
      let text;
      try {
        text = readFileSync(logPath).subarray(logStart).toString("utf8");
      } catch {
        return null;
      }
      const smtp = /^\[sink\] smtp listening on [\d.]+:(\d+)$/m.exec(text);
      const http = /^\[sink\] http listening on (http:\/\/\S+)$/m.exec(text);
      const dbLine = /^\[sink\] database .* \((\d+) messages?\)$/m.exec(text);
      return smtp && http && dbLine ? { smtpPort: Number(smtp[1]), httpUrl: http[1] } : null;
    },
    timeoutMs,
  );
  await waitReady(proc, logPath, () => greetsOnce(ports.smtpPort), timeoutMs);
  return running(proc, logPath, ports.smtpPort, ports.httpUrl, performance.now() - t0, { dbPath: db });
}

async function startSmtpSink({ workDir }) {
  const logPath = join(workDir, "smtp-sink.log");
  const port = await freePort();
  // smtp-sink refuses to run as root without a user to switch to.
  const userArgs = process.getuid?.() === 0 ? ["-u", "nobody"] : [];
  const t0 = performance.now();
  const proc = launch(
    "smtp-sink",
    SMTP_SINK_BIN,
    [...userArgs, `127.0.0.1:${port}`, String(SMTP_SINK_BACKLOG)],
    logPath,
  );
  await waitReady(proc, logPath, () => greetsOnce(port), STARTUP_TIMEOUT_MS);
  return running(proc, logPath, port, null, performance.now() - t0);
}

async function startMaildev({ workDir }) {
  const logPath = join(workDir, "maildev.log");
  const smtpPort = await freePort();
  const webPort = await freePort();
  const t0 = performance.now();
  // In-memory storage, its default: MailDev's usual way of running in CI.
  const proc = launch(
    "maildev",
    process.execPath,
    [
      MAILDEV_MAIN,
      "-s",
      String(smtpPort),
      "-w",
      String(webPort),
      "--ip",
      "127.0.0.1",
      "--web-ip",
      "127.0.0.1",
    ],
    logPath,
  );
  await waitReady(proc, logPath, () => greetsOnce(smtpPort), STARTUP_TIMEOUT_MS);
  return running(proc, logPath, smtpPort, `http://127.0.0.1:${webPort}`, performance.now() - t0);
}

async function startSmtpFloor({ workDir }) {
  const logPath = join(workDir, "smtp-floor.log");
  const port = await freePort();
  const t0 = performance.now();
  const proc = launch("smtp-floor", process.execPath, [SMTP_FLOOR_MAIN, String(port)], logPath);
  await waitReady(proc, logPath, () => greetsOnce(port), STARTUP_TIMEOUT_MS);
  return running(proc, logPath, port, null, performance.now() - t0);
}

export function startSystem(name, opts) {
  if (name === "tun") return startTun(opts);
  if (name === "smtp-sink") return startSmtpSink(opts);
  if (name === "maildev") return startMaildev(opts);
  if (name === "smtp-floor") return startSmtpFloor(opts);
  throw new Error(`unknown system ${name}`);
}
