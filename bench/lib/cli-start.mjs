// Scenario G: wall time of `tun --help` and `tun mail ls` as a user's shell
// sees it (spawn to exit), next to a bare `node -e 0` as the floor Node sets.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { track } from "./children.mjs";
import { LOAD_DOMAIN, runSmtpSource } from "./load.mjs";
import { REPO_ROOT } from "./systems.mjs";
import { spread } from "./stats.mjs";

const TUN_MAIN = join(REPO_ROOT, "cli/dist/cli/main.js");
const SPAWN_TIMEOUT_MS = 30_000;
/** Messages in the sink `tun mail ls` lists, so it renders a real table. */
const LISTED_MESSAGES = 20;

function timeSpawn(args) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = track(
      spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"] }),
    );
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), SPAWN_TIMEOUT_MS);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - t0, code, stderr });
    });
  });
}

async function series(label, args, repeats) {
  await timeSpawn(args); // page cache warm, as on a developer's machine
  const ms = [];
  let failure = null;
  for (let i = 0; i < repeats; i++) {
    const r = await timeSpawn(args);
    if (r.code !== 0) failure = `exit ${r.code}: ${r.stderr.trim().split("\n")[0]}`;
    ms.push(r.ms);
  }
  return { label, ok: failure === null, error: failure, ms: spread(ms) };
}

export async function cliStartRun(ctx, workDir) {
  const repeats = ctx.sizes.cliRepeats;
  const sys = await ctx.start("tun", workDir, {});
  try {
    await runSmtpSource({
      port: sys.smtpPort,
      sessions: 1,
      length: 512,
      messages: LISTED_MESSAGES,
      timeoutMs: ctx.loadTimeoutMs,
    });
    return {
      system: "tun",
      ok: true,
      node: await series("node -e 0", ["-e", "0"], repeats),
      help: await series("tun --help", [TUN_MAIN, "--help"], repeats),
      mailLs: await series("tun mail ls", [TUN_MAIN, "mail", "ls", "--sink", sys.httpUrl], repeats),
      listed: `${LISTED_MESSAGES} messages to rcpt@${LOAD_DOMAIN}`,
    };
  } finally {
    await sys.stop();
  }
}
