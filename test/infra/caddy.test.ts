// infra/caddy.json, Caddy's base config on the VM, checked with the real Caddy:
// it validates as shipped, matches the CLI's defaults, and takes a tunnel route
// the way `tun up` adds one through the admin API.
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULTS } from "../../cli/config/config.js";
import {
  adminRequest,
  BASE_CONFIG,
  caddyEnv,
  readBaseConfig,
  startBaseCaddy,
  type RunningCaddy,
} from "./caddy-process.js";

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
    const config = readBaseConfig();
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
  let caddy: RunningCaddy;
  let app: Server;
  let appPort: number;
  let admin: string;
  let httpPort: number;

  beforeAll(async () => {
    app = createServer((req, res) => res.end(`app saw ${req.headers.host}${req.url}`));
    app.listen(0, "127.0.0.1");
    await once(app, "listening");
    appPort = (app.address() as AddressInfo).port;
    caddy = await startBaseCaddy();
    ({ admin, httpPort } = caddy);
  });

  afterAll(async () => {
    await caddy?.stop();
    app?.close();
  });

  it("takes a tunnel route on server `tun`, serves it, and lets it be removed by @id", async () => {
    const routes = `/config/apps/http/servers/${DEFAULTS.caddyServer}/routes`;
    const add = await adminRequest(admin, "POST", routes, {
      "@id": "tun-api",
      match: [{ host: ["api.tun.example.com"] }],
      handle: [{ handler: "reverse_proxy", upstreams: [{ dial: `127.0.0.1:${appPort}` }] }],
    });
    expect(add.status, add.text).toBe(200);

    expect(await getWithHost(httpPort, "api.tun.example.com", "/hello")).toBe(
      "app saw api.tun.example.com/hello",
    );

    const del = await adminRequest(admin, "DELETE", "/id/tun-api");
    expect(del.status).toBe(200);
    expect((await adminRequest(admin, "GET", routes)).json).toEqual([]);
  });

  it("tells the CLI where the tunnel server listens", async () => {
    const res = await adminRequest(admin, "GET", `/config/apps/http/servers/${DEFAULTS.caddyServer}/listen`);
    expect(res.json).toEqual([`127.0.0.1:${httpPort}`]);
  });
});

describe("Caddy as the VM's drop-in runs it (caddy run --resume)", () => {
  const routesPath = `/config/apps/http/servers/${DEFAULTS.caddyServer}/routes`;
  const routeIds = async (admin: string): Promise<string[]> =>
    ((await adminRequest(admin, "GET", routesPath)).json as { "@id": string }[]).map((r) => r["@id"]);

  it("keeps live tunnel routes across a restart, and takes the base config again once install.sh drops the autosave", async () => {
    const home = mkdtempSync(join(tmpdir(), "tun-caddy-home-"));
    try {
      const first = await startBaseCaddy({ home, runFlags: ["--resume"] });
      const same = { home, runFlags: ["--resume"], admin: first.admin, httpPort: first.httpPort };
      const add = await adminRequest(first.admin, "POST", routesPath, {
        "@id": "tun-api",
        match: [{ host: ["api.tun.example.com"] }],
        handle: [{ handler: "static_response", body: "api" }],
      });
      expect(add.status, add.text).toBe(200);
      await first.stop();

      // install.sh deletes the autosave at this path under the caddy user's HOME (/var/lib/caddy).
      const autosave = join(home, ".config/caddy/autosave.json");
      expect(existsSync(autosave)).toBe(true);
      expect(readFileSync(join(BASE_CONFIG, "..", "install.sh"), "utf8")).toContain(
        "CADDY_AUTOSAVE=/var/lib/caddy/.config/caddy/autosave.json",
      );

      const restarted = await startBaseCaddy(same);
      expect(await routeIds(restarted.admin)).toEqual(["tun-api"]);
      await restarted.stop();

      rmSync(autosave);
      const fresh = await startBaseCaddy(same);
      expect(await routeIds(fresh.admin)).toEqual([]);
      await fresh.stop();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
