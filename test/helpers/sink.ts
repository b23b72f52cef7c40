// Sinks for tests: in-process (startTestSink) or the real `tun sink` binary
// as a child process (spawnTestSink). Both use ports 0 and a temp dir that
// stop() removes.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveSinkConfig, type SinkConfig } from "../../sink/config.js";
import { startSink } from "../../sink/sink.js";

export interface TestSink {
  smtpPort: number;
  httpPort: number;
  url: string;
  dbPath: string;
  stop(): Promise<void>;
}

export interface SpawnedSink extends TestSink {
  child: ChildProcess;
  /** stdout so far. */
  output(): string;
  kill(signal: NodeJS.Signals): void;
}

/** How long a spawned sink may take to print its startup lines. */
const SPAWN_READY_TIMEOUT_MS = 15_000;
/** How long stop() waits for a graceful exit before SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;

export const TUN_BIN = fileURLToPath(new URL("../../cli/dist/cli/main.js", import.meta.url));

export async function startTestSink(overrides: Partial<SinkConfig> = {}): Promise<TestSink> {
  const dir = mkdtempSync(join(tmpdir(), "tun-sink-test-"));
  const base = resolveSinkConfig({ smtp: "127.0.0.1:0", http: "127.0.0.1:0", db: join(dir, "sink.db") }, {});
  const config: SinkConfig = Object.freeze({ ...base, shutdownGraceMs: 1_000, quiet: true, ...overrides });
  let sink;
  try {
    sink = await startSink(config);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    smtpPort: sink.smtp.port,
    httpPort: sink.http.port,
    url: sink.url,
    dbPath: config.dbPath,
    stop: async () => {
      await sink.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function spawnTestSink(
  extraArgs: string[] = [],
  opts: { dbPath?: string } = {},
): Promise<SpawnedSink> {
  const dir = mkdtempSync(join(tmpdir(), "tun-sink-spawn-"));
  const dbPath = opts.dbPath ?? join(dir, "sink.db");
  const args = [
    TUN_BIN,
    "sink",
    "--smtp",
    "127.0.0.1:0",
    "--http",
    "127.0.0.1:0",
    "--db",
    dbPath,
    "--shutdown-grace",
    "1s",
    ...extraArgs,
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  for (const k of Object.keys(env)) if (k.startsWith("TUN_SINK_")) delete env[k];
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `tun sink did not start within ${SPAWN_READY_TIMEOUT_MS} ms; stdout:\n${stdout}\nstderr:\n${stderr}`,
            ),
          ),
        SPAWN_READY_TIMEOUT_MS,
      );
      const check = (): void => {
        if (/^\[sink\] database .*$/m.test(stdout)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on("data", check);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`tun sink exited with code ${code} before it was ready; stderr:\n${stderr}`));
      });
    });
  } catch (err) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const smtpPort = Number(/^\[sink\] smtp listening on .*:(\d+)$/m.exec(stdout)![1]);
  const url = /^\[sink\] http listening on (http:\/\/\S+)$/m.exec(stdout)![1]!;
  const httpPort = Number(new URL(url).port);
  return {
    child,
    smtpPort,
    httpPort,
    url,
    dbPath,
    output: () => stdout,
    kill: (signal) => void child.kill(signal),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
