// A real Caddy running infra/caddy.json, with only its addresses moved to free
// loopback ports (admin API and a plain-HTTP listener for the `tun` server).
// With just a plain-HTTP listener Caddy manages no certificates, so no ACME.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { request, type IncomingMessage } from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULTS } from "../../cli/config/config.js";

export const BASE_CONFIG = join(import.meta.dirname, "..", "..", "infra", "caddy.json");
const STARTUP_DEADLINE_MS = 15_000;
const POLL_INTERVAL_MS = 50;

export interface CaddyConfig {
  admin: { listen: string };
  apps: {
    http: { http_port?: number; servers: Record<string, { listen: string[]; routes: unknown[] }> };
    tls?: unknown;
  };
}

export const readBaseConfig = (): CaddyConfig => JSON.parse(readFileSync(BASE_CONFIG, "utf8")) as CaddyConfig;

/** Caddy keeps its data (certificates, autosave) under these; point them at a scratch dir. */
export function caddyEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HOME: dir,
    XDG_DATA_HOME: join(dir, "data"),
    XDG_CONFIG_HOME: join(dir, "config"),
  };
}

/** HOME set, the XDG overrides removed: Caddy's default paths under HOME. */
function homeOnlyEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  delete env.XDG_DATA_HOME;
  delete env.XDG_CONFIG_HOME;
  return env;
}

export async function freePort(): Promise<number> {
  const srv = createServer().listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address() as AddressInfo;
  srv.close();
  await once(srv, "close");
  return port;
}

export interface RunningCaddy {
  /** host:port of the admin API. */
  admin: string;
  /** Port of the `tun` server's plain-HTTP listener on 127.0.0.1. */
  httpPort: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Caddy's HOME, kept after stop() (default: a scratch dir removed on stop). */
  home?: string;
  /** Extra `caddy run` flags, e.g. ["--resume"] as the VM's drop-in has. */
  runFlags?: string[];
  /** Reuse these addresses (a restart). */
  admin?: string;
  httpPort?: number;
}

export async function startBaseCaddy(opts: StartOptions = {}): Promise<RunningCaddy> {
  const dir = opts.home ?? mkdtempSync(join(tmpdir(), "tun-caddy-"));
  const config = readBaseConfig();
  const admin = opts.admin ?? `127.0.0.1:${await freePort()}`;
  const httpPort = opts.httpPort ?? (await freePort());
  config.admin.listen = admin;
  config.apps.http.http_port = httpPort;
  config.apps.http.servers[DEFAULTS.caddyServer]!.listen = [`127.0.0.1:${httpPort}`];
  const file = join(dir, "tun.json");
  writeFileSync(file, JSON.stringify(config));

  const caddy: ChildProcess = spawn("caddy", ["run", ...(opts.runFlags ?? []), "--config", file], {
    // With a given HOME, Caddy uses its default paths under it, as on the VM.
    env: opts.home ? homeOnlyEnv(dir) : caddyEnv(dir),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  caddy.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  caddy.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const stop = async (): Promise<void> => {
    if (caddy.exitCode === null && caddy.signalCode === null) {
      caddy.kill("SIGTERM");
      await once(caddy, "exit");
    }
    if (!opts.home) rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + STARTUP_DEADLINE_MS;
  for (;;) {
    const res = await fetch(`http://${admin}/config/`).catch(() => null);
    if (res?.ok) break;
    if (caddy.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`caddy did not start its admin API on ${admin}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
  }
  return { admin, httpPort, stop };
}

/**
 * One admin API request on a fresh connection. Caddy restarts its admin server
 * when the config changes, closing kept-alive connections; fetch() would reuse
 * one and fail with "other side closed".
 */
export async function adminRequest(
  admin: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown; text: string }> {
  const [host, port] = admin.split(":");
  const req = request({
    host,
    port: Number(port),
    method,
    path,
    agent: false,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
  });
  req.end(body === undefined ? undefined : JSON.stringify(body));
  const [res] = (await once(req, "response")) as [IncomingMessage];
  let text = "";
  for await (const chunk of res) text += (chunk as Buffer).toString();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.statusCode ?? 0, json, text };
}
