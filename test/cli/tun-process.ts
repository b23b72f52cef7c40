// Runs the real `tun` binary (TUN_BIN) as a child process and lets a
// test wait on its output with a deadline instead of sleeping.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { TUN_BIN } from "../helpers/sink.js";

export { TUN_BIN };

function requireBuild(): void {
  if (!existsSync(TUN_BIN)) throw new Error(`${TUN_BIN} is missing: run npm run build first`);
}

export interface TunProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once `check(stdout, stderr)` is true; rejects at the deadline or if the process exits first. */
  waitFor(
    what: string,
    check: (stdout: string, stderr: string) => boolean,
    timeoutMs?: number,
  ): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const DEFAULT_WAIT_MS = 10_000;

/**
 * The child's environment: this process's, without the TUN_* settings of
 * whoever runs the suite (a TUN_SINK_URL or TUN_CONFIG in their shell must not
 * change what a test sees), plus the test's own.
 */
function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "" };
  for (const key of Object.keys(base)) if (key.startsWith("TUN_")) delete base[key];
  return { ...base, ...env };
}

export function startTun(args: string[], env: NodeJS.ProcessEnv = {}): TunProcess {
  requireBuild();
  const child = spawn(process.execPath, [TUN_BIN, ...args], {
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((l) => l());
  child.stdout!.setEncoding("utf8").on("data", (d: string) => ((out += d), notify()));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => ((err += d), notify()));
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => {
      exitInfo = { code, signal };
      notify();
      resolve(exitInfo);
    }),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(what, check, timeoutMs = DEFAULT_WAIT_MS) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
          timeoutMs,
        );
        const probe = (): void => {
          if (check(out, err)) finish(null);
          else if (exitInfo) finish(new Error(`tun exited (${JSON.stringify(exitInfo)}) before ${what}`));
        };
        function finish(e: Error | null): void {
          clearTimeout(timer);
          listeners.delete(probe);
          if (e) reject(new Error(`${e.message}\n--- stdout:\n${out}\n--- stderr:\n${err}`));
          else resolve();
        }
        listeners.add(probe);
        probe();
      });
    },
    async stop(signal = "SIGINT") {
      if (!exitInfo) child.kill(signal);
      return exited;
    },
  };
}

/** Runs tun to completion. */
export async function runTun(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string; stdoutBytes: Buffer }> {
  requireBuild();
  const child = spawn(process.execPath, [TUN_BIN, ...args], {
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const outChunks: Buffer[] = [];
  let err = "";
  child.stdout.on("data", (d: Buffer) => outChunks.push(d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.once("close", (c) => resolve(c)));
  const stdoutBytes = Buffer.concat(outChunks);
  return { code, stdout: stdoutBytes.toString("utf8"), stderr: err, stdoutBytes };
}
