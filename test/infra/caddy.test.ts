// infra/caddy.json, Caddy's base config on the VM, checked with the real Caddy:
// it validates as shipped, matches the CLI's defaults, and takes a tunnel route
// the way `tun up` adds one through the admin API.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, get, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULTS } from "../../cli/config/config.js";

const REPO = join(import.meta.dirname, "..", "..");
const BASE_CONFIG = join(REPO, "infra/caddy.json");
const STARTUP_DEADLINE_MS = 15_000;
const POLL_INTERVAL_MS = 50;

interface CaddyConfig {
  admin: { listen: string };
  apps: {
    http: { http_port?: number; servers: Record<string, { listen: string[]; routes: unknown[] }> };
    tls?: unknown;
  };
}

const readBase = (): CaddyConfig => JSON.parse(readFileSync(BASE_CONFIG, "utf8")) as CaddyConfig;

/** Caddy keeps its data (certificates, autosave) under these; point them at a scratch dir. */
function caddyEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HOME: dir,
    XDG_DATA_HOME: join(dir, "data"),
    XDG_CONFIG_HOME: join(dir, "config"),
  };
}

async function freePort(): Promise<number> {
  const srv = createNetServer().listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address() as AddressInfo;
  srv.close();
  await once(srv, "close");
  return port;
}

/** fetch() will not send a Host header of our choosing; node:http does. */
async function getWithHost(port: number, host: string, path: string): Promise<string> {
  const req = get({ host: "127.0.0.1", port, path, headers: { Host: host } });
  const [res] = (await once(req, "response")) as [NodeJS.ReadableStream];
  let body = "";
  for await (const chunk of res) body += chunk.toString();
  return body;
}

describe("infra/caddy.json", () => {
  it("matches the CLI's defaults: admin API on loopback, server named tun on :443 and :80", () => {
    const config = readBase();
    expect(config.admin.listen).toBe(DEFAULTS.caddyAdmin);
    expect(config.admin.listen.startsWith("127.0.0.1:")).toBe(true);
    const server = config.apps.http.servers[DEFAULTS.caddyServer];
    expect(server?.listen).toEqual([":443", ":80"]);
    // Tunnel routes are appended; anything here would shadow them.
    expect(server?.routes).toEqual([]);
  });

  it("is accepted by `caddy validate` as shipped, and a broken copy is not", () => {
    const dir = mkdtempSync(join(tmpdir(), "tun-caddy-validate-"));
    try {
      const ok = spawnSync("caddy", ["validate", "--config", BASE_CONFIG], {
        encoding: "utf8",
        env: caddyEnv(dir),
      });
      expect(ok.status, ok.stderr).toBe(0);
      const broken = join(dir, "broken.json");
      writeFileSync(broken, readFileSync(BASE_CONFIG, "utf8").replace('"routes"', '"rutes"'));
      const bad = spawnSync("caddy", ["validate", "--config", broken], {
        encoding: "utf8",
        env: caddyEnv(dir),
      });
      expect(bad.stderr).toMatch(/unknown field "rutes"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a running Caddy with the base config", () => {
  let dir: string;
  let caddy: ChildProcess;
  let app: Server;
  let appPort: number;
  let admin: string;
  let httpPort: number;
  let caddyLog = "";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tun-caddy-"));
    app = createServer((req, res) => res.end(`app saw ${req.headers.host}${req.url}`));
    app.listen(0, "127.0.0.1");
    await once(app, "listening");
    appPort = (app.address() as AddressInfo).port;

    // Only the addresses change: loopback ports instead of 2019/443/80. With
    // just a plain-HTTP listener Caddy manages no certificates, so no ACME.
    const config = readBase();
    admin = `127.0.0.1:${await freePort()}`;
    httpPort = await freePort();
    config.admin.listen = admin;
    config.apps.http.http_port = httpPort;
    config.apps.http.servers[DEFAULTS.caddyServer]!.listen = [`127.0.0.1:${httpPort}`];
    const file = join(dir, "tun.json");
    writeFileSync(file, JSON.stringify(config));

    caddy = spawn("caddy", ["run", "--config", file], {
      env: caddyEnv(dir),
      stdio: ["ignore", "pipe", "pipe"],
    });
    caddy.stdout!.on("data", (d: Buffer) => (caddyLog += d.toString()));
    caddy.stderr!.on("data", (d: Buffer) => (caddyLog += d.toString()));
    const deadline = Date.now() + STARTUP_DEADLINE_MS;
    for (;;) {
      const res = await fetch(`http://${admin}/config/`).catch(() => null);
      if (res?.ok) break;
      if (caddy.exitCode !== null || Date.now() > deadline) {
        throw new Error(`caddy did not start its admin API on ${admin}:\n${caddyLog}`);
      }
      await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
    }
  });

  afterAll(async () => {
    if (caddy && caddy.exitCode === null) {
      caddy.kill("SIGTERM");
      await once(caddy, "exit");
    }
    app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("takes a tunnel route on server `tun`, serves it, and lets it be removed by @id", async () => {
    const routes = `http://${admin}/config/apps/http/servers/${DEFAULTS.caddyServer}/routes`;
    const add = await fetch(routes, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        "@id": "tun-api",
        match: [{ host: ["api.tun.example.com"] }],
        handle: [{ handler: "reverse_proxy", upstreams: [{ dial: `127.0.0.1:${appPort}` }] }],
      }),
    });
    expect(add.status, await add.text()).toBe(200);

    expect(await getWithHost(httpPort, "api.tun.example.com", "/hello")).toBe(
      "app saw api.tun.example.com/hello",
    );

    const del = await fetch(`http://${admin}/id/tun-api`, { method: "DELETE" });
    expect(del.status).toBe(200);
    const left = (await (await fetch(routes)).json()) as unknown[];
    expect(left).toEqual([]);
  });

  it("tells the CLI where the tunnel server listens", async () => {
    const res = await fetch(`http://${admin}/config/apps/http/servers/${DEFAULTS.caddyServer}/listen`);
    expect(await res.json()).toEqual([`127.0.0.1:${httpPort}`]);
  });
});
