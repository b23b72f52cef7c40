// A real Caddy for tunnel tests: admin API and one server named `tun` on
// loopback ports, plain HTTP (automatic HTTPS off) or TLS from Caddy's internal
// CA; storage in a temp dir.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, stopChild } from "./sshd.js";

const CADDY = "/usr/bin/caddy";
const CADDY_READY_TIMEOUT_MS = 15_000;
const POLL_MS = 50;

export interface CaddyRouteJson {
  "@id"?: string;
  match?: Array<{ host?: string[] }>;
  handle?: Array<Record<string, unknown>>;
}

export interface TestCaddy {
  /** "127.0.0.1:PORT" */
  admin: string;
  httpPort: number;
  server: string;
  /** The server's routes as Caddy holds them now. */
  routes(): Promise<CaddyRouteJson[]>;
  /** The `@id` of every route ("" for a route without one), in Caddy's order. */
  routeIds(): Promise<string[]>;
  /** GET http://127.0.0.1:httpPort/path with the given Host header. */
  get(host: string, path?: string): Promise<{ status: number; body: string }>;
  log(): string;
  /** PEM of Caddy's internal root CA (TLS mode). */
  rootCa(): string;
  stop(): Promise<void>;
}

export function httpGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

export interface CaddyOptions {
  /**
   * Serve the tunnel server with TLS, as on the real VM (automatic HTTPS), but
   * with certificates from Caddy's internal CA instead of ACME. `rootCa()`
   * then returns that CA's certificate so tests can verify properly.
   */
  tls?: boolean;
  /** With `tls`: an ACME CA that cannot be reached, so no certificate ever arrives. */
  unobtainableCertificates?: boolean;
}

export async function startCaddy(opts: CaddyOptions = {}): Promise<TestCaddy> {
  const dir = mkdtempSync(join(tmpdir(), "tun-caddy-"));
  const adminPort = await freePort();
  const httpPort = await freePort();
  const admin = `127.0.0.1:${adminPort}`;
  const server = "tun";
  const storage = join(dir, "data");
  const plain = {
    servers: {
      [server]: { listen: [`127.0.0.1:${httpPort}`], automatic_https: { disable: true }, routes: [] },
    },
  };
  const tls = {
    // http_port is never bound (no redirects, no ACME) but must not be 80.
    http_port: await freePort(),
    https_port: httpPort,
    servers: {
      [server]: {
        listen: [`127.0.0.1:${httpPort}`],
        automatic_https: { disable_redirects: true },
        routes: [],
      },
    },
  };
  const config = {
    admin: { listen: admin },
    storage: { module: "file_system", root: storage },
    apps: {
      http: opts.tls ? tls : plain,
      ...(opts.tls
        ? {
            tls: {
              automation: {
                policies: [
                  {
                    issuers: [
                      opts.unobtainableCertificates
                        ? { module: "acme", ca: `https://127.0.0.1:${await freePort()}/directory` }
                        : { module: "internal" },
                    ],
                  },
                ],
              },
            },
            pki: { certificate_authorities: { local: { install_trust: false } } },
          }
        : {}),
    },
  };
  const configPath = join(dir, "caddy.json");
  writeFileSync(configPath, JSON.stringify(config));
  const child = spawn(CADDY, ["run", "--config", configPath], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      HOME: dir,
      XDG_DATA_HOME: join(dir, "data"),
      XDG_CONFIG_HOME: join(dir, "config"),
    },
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));

  const adminGet = (path: string) => httpGet(adminPort, path, { host: admin });
  const deadline = Date.now() + CADDY_READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`caddy exited:\n${output}`);
    const ok = await adminGet("/config/").then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`caddy did not start within ${CADDY_READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }

  const routes = async (): Promise<CaddyRouteJson[]> => {
    const r = await adminGet(`/config/apps/http/servers/${server}/routes`);
    return r.status === 200 && r.body.trim() ? ((JSON.parse(r.body) as CaddyRouteJson[] | null) ?? []) : [];
  };
  return {
    admin,
    httpPort,
    server,
    routes,
    routeIds: async () => (await routes()).map((r) => r["@id"] ?? ""),
    get: (host, path = "/") => httpGet(httpPort, path, { host }),
    log: () => output,
    rootCa: () => readFileSync(join(storage, "pki", "authorities", "local", "root.crt"), "utf8"),
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
