// Basic auth on a tunnel's public URL: Caddy asks for the credentials, the
// chain proof sends them, and Caddy's config holds only a bcrypt hash.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpGet } from "../helpers/caddy.js";
import { DOMAIN, runTun, runTunToEnd, startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const PASSWORD = "correct horse battery staple";
const basic = (user: string, password: string): string =>
  "Basic " + Buffer.from(`${user}:${password}`).toString("base64");
const get = (name: string, authorization?: string) =>
  httpGet(h.caddy.httpPort, "/private", {
    host: `${name}.${DOMAIN}`,
    ...(authorization ? { authorization } : {}),
  });
const caddyConfig = async (): Promise<string> =>
  (await httpGet(Number(h.caddy.admin.split(":")[1]), "/config/", { host: h.caddy.admin })).body;

describe("basic auth", () => {
  it("--basic-auth: 401 without credentials, 200 with them, and no password in Caddy's config", async () => {
    const tun = runTun(["up", "guarded", String(h.app.port), "--basic-auth", `qa:${PASSWORD}`], h.env());
    try {
      await tun.waitFor(/streaming mail for @guarded\.tun\.test/);
      expect(tun.stderr()).toContain("https://guarded.tun.test -> localhost:");
      expect(tun.stderr()).toContain("(basic auth as qa)");
      const hitsBefore = h.app.hits;
      const anonymous = await get("guarded");
      expect(anonymous.status).toBe(401);
      expect((await get("guarded", basic("qa", "wrong"))).status).toBe(401);
      expect(h.app.hits).toBe(hitsBefore); // refused at Caddy, never forwarded
      const ok = await get("guarded", basic("qa", PASSWORD));
      expect(ok).toEqual({ status: 200, body: "hello from the local app /private" });

      const config = await caddyConfig();
      expect(config).toContain('"http_basic"');
      expect(config).not.toContain(PASSWORD);
      expect(config).not.toContain(Buffer.from(PASSWORD).toString("base64"));
      expect(config).toMatch(/"password":"\$2[aby]\$10\$/);
      tun.child.kill("SIGINT");
      expect((await tun.exited).code).toBe(130);
      expect(await h.caddy.routeIds()).toEqual([]);
    } finally {
      await tun.stop();
    }
  });

  it("takes per-tunnel credentials from the config file", async () => {
    h.writeConfig({ tunnels: { vault: { port: h.app.port, basicAuth: "ops:from-the-file" } } });
    const tun = runTun(["up", "vault"], h.env());
    try {
      await tun.waitFor(/streaming mail for @vault\.tun\.test/);
      expect((await get("vault")).status).toBe(401);
      expect((await get("vault", basic("ops", "from-the-file"))).status).toBe(200);
      expect(await caddyConfig()).not.toContain("from-the-file");
      tun.child.kill("SIGINT");
      expect((await tun.exited).code).toBe(130);
    } finally {
      await tun.stop();
      h.writeConfig();
    }
  });

  it("refuses malformed credentials in one line (exit 2)", async () => {
    const r = await runTunToEnd(["up", "x", String(h.app.port), "--basic-auth", "nopassword"], h.env());
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'tun: --basic-auth: expected "user:password" with a non-empty user and password',
    );
  });
});
