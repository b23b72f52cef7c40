// The world a tunnel test runs in: real sshd and Caddy on loopback, the real
// sink, a local HTTP app, a config file, and `tun` run as a child process.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import nodemailer from "nodemailer";
import { startCaddy, type CaddyOptions, type TestCaddy } from "../helpers/caddy.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { startSshd, stopChild, type TestSshd } from "../helpers/sshd.js";
import { waitUntil } from "../helpers/poll.js";

export { waitUntil };

export const TUN_BIN = fileURLToPath(new URL("../../cli/dist/cli/main.js", import.meta.url));
export const DOMAIN = "tun.test";

/** Fast link timing for tests (the defaults detect a dead network within 30 s). */
export const FAST_LINK_ENV = {
  TUN_SSH_KEEPALIVE_MS: "250",
  TUN_SSH_KEEPALIVE_COUNT: "3",
  TUN_SSH_READY_TIMEOUT_MS: "2000",
  TUN_RECONNECT_MIN_MS: "100",
  TUN_RECONNECT_MAX_MS: "500",
  TUN_ROUTE_CHECK_MS: "300",
};

export interface LocalApp {
  port: number;
  hits: number;
  close(): Promise<void>;
}

export async function startApp(text = "hello from the local app"): Promise<LocalApp> {
  const app: LocalApp = { port: 0, hits: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    app.hits++;
    res.setHeader("content-type", "text/plain");
    res.end(`${text} ${req.url}`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  app.port = (server.address() as AddressInfo).port;
  app.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return app;
}

export interface RunningTun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Waits until stdout+stderr match. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

export function runTun(args: string[], env: Record<string, string>): RunningTun {
  const child = spawn(process.execPath, [TUN_BIN, ...args], {
    env: { ...process.env, SSH_AUTH_SOCK: "", NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor: async (re, timeoutMs = 20_000) => {
      try {
        await waitUntil(String(re), () => re.test(out + err) || child.exitCode !== null, timeoutMs);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n--- stdout:\n${out}\n--- stderr:\n${err}`);
      }
      if (!re.test(out + err)) {
        throw new Error(
          `tun exited (${child.exitCode}) before printing ${re}\n--- stdout:\n${out}\n--- stderr:\n${err}`,
        );
      }
    },
    exited,
    stop: () => stopChild(child),
  };
}

export interface Harness {
  dir: string;
  sshd: TestSshd;
  caddy: TestCaddy;
  sink: TestSink;
  app: LocalApp;
  knownHosts: string;
  configPath: string;
  /** Writes the config file; `sshPort` defaults to sshd's (pass a relay's port to go through it). */
  writeConfig(overrides?: Record<string, unknown>): void;
  env(extra?: Record<string, string>): Record<string, string>;
  sendMail(to: string, subject: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(opts: CaddyOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "tun-tunnel-test-"));
  const [sshd, caddy, sink, app] = await Promise.all([
    startSshd(),
    startCaddy(opts),
    startTestSink(),
    startApp(),
  ]);
  const knownHosts = join(dir, "known_hosts");
  writeFileSync(knownHosts, sshd.knownHostsLine() + "\n");
  const configPath = join(dir, "config.json");
  const writeConfig = (overrides: Record<string, unknown> = {}): void => {
    writeFileSync(
      configPath,
      JSON.stringify({
        host: sshd.host,
        sshPort: sshd.port,
        user: sshd.user,
        identityFile: sshd.clientKey.privatePath,
        knownHosts,
        domain: DOMAIN,
        caddyAdmin: caddy.admin,
        caddyServer: caddy.server,
        sink: `127.0.0.1:${sink.httpPort}`,
        ...overrides,
      }),
    );
  };
  writeConfig();
  const transport = nodemailer.createTransport({ host: "127.0.0.1", port: sink.smtpPort, secure: false });
  return {
    dir,
    sshd,
    caddy,
    sink,
    app,
    knownHosts,
    configPath,
    writeConfig,
    env: (extra = {}) => ({ TUN_CONFIG: configPath, HOME: dir, ...FAST_LINK_ENV, ...extra }),
    sendMail: async (to, subject) => {
      await transport.sendMail({ from: "shop@example.test", to, subject, text: `body of ${subject}` });
    },
    stop: async () => {
      transport.close();
      await Promise.allSettled([sshd.stop(), caddy.stop(), sink.stop(), app.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `tun` to completion. */
export async function runTunToEnd(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const tun = runTun(args, env);
  const { code } = await tun.exited;
  return { code, stdout: tun.stdout(), stderr: tun.stderr() };
}
