// Without Let's Encrypt: `tls internal` (Caddy's internal CA, trusted by the
// test through its root) and `tls off` (plain HTTP) each serve a tunnel, the
// URL's scheme follows the mode, and `tun doctor` checks the mode against
// Caddy's config. `tun init --tls internal` says how to trust the CA.
import { mkdtempSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDns, type TestDns } from "../doctor/dnsmasq.js";
import { DOMAIN, runTun, runTunToEnd, startHarness, type Harness } from "./harness.js";

let dns: TestDns;
beforeAll(async () => {
  dns = await startDns({ addresses: { [DOMAIN]: "127.0.0.1" }, mx: { [`doctor-check.${DOMAIN}`]: DOMAIN } });
});
afterAll(async () => {
  await dns?.stop();
});

async function tlsCheck(h: Harness): Promise<{ status: string; detail: string; fix?: string }> {
  const r = await runTunToEnd(["doctor", "--json", "--resolver", dns.server], h.env());
  const { checks } = JSON.parse(r.stdout) as { checks: { id: string; status: string; detail: string }[] };
  return checks.find((c) => c.id === "caddy.tls")!;
}

async function serves(h: Harness, name: string, scheme: "http" | "https", get: () => Promise<string>) {
  const tun = runTun(["up", name, String(h.app.port)], h.env());
  try {
    await tun.waitFor(new RegExp(`streaming mail for @${name}\\.`), 60_000);
    expect(tun.stderr()).toContain(`${scheme}://${name}.${DOMAIN} -> localhost:${h.app.port} (chain checked`);
    expect(await get()).toBe(`hello from the local app /${name}`);
    tun.child.kill("SIGINT");
    expect((await tun.exited).code).toBe(130);
  } finally {
    await tun.stop();
  }
}

describe("tls off", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    h.writeConfig({ tls: "off" });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("serves the tunnel over plain HTTP and prints an http:// URL; doctor agrees with Caddy", async () => {
    await serves(h, "plain", "http", async () => (await h.caddy.get(`plain.${DOMAIN}`, "/plain")).body);
    expect(await tlsCheck(h)).toMatchObject({ status: "pass", detail: "plain HTTP, no certificates" });
  });
});

describe("tls internal", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ tls: true });
    h.writeConfig({ tls: "internal" });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("serves the tunnel over HTTPS with a certificate from Caddy's internal CA", async () => {
    const get = () =>
      new Promise<string>((resolve, reject) => {
        const host = `internal.${DOMAIN}`;
        const req = request(
          {
            host: "127.0.0.1",
            port: h.caddy.httpPort,
            path: "/internal",
            servername: host,
            headers: { host },
            ca: h.caddy.rootCa(),
          },
          (res) => {
            let body = "";
            res.on("data", (d: Buffer) => (body += d.toString()));
            res.on("end", () => resolve(body));
          },
        );
        req.on("error", reject);
        req.end();
      });
    await serves(h, "internal", "https", get);
    expect((await tlsCheck(h)).status).toBe("pass");
  });

  it("doctor names a mode that does not match Caddy's, with the fix", async () => {
    h.writeConfig({ tls: "acme" });
    try {
      const r = await tlsCheck(h);
      expect(r.status).toBe("fail");
      expect(r.detail).toMatch(
        /^Caddy serves certificates from Caddy's internal CA .*but the config says tls acme$/,
      );
      expect(r.fix).toMatch(/^run tun init --tls internal -y/);
    } finally {
      h.writeConfig({ tls: "internal" });
    }
  });
});

describe("tun init --tls", () => {
  it("writes the mode, says how to trust the internal CA, and refuses an unknown mode with exit 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tun-init-tls-"));
    const env = { TUN_CONFIG: join(dir, "config.json"), HOME: dir, SSH_AUTH_SOCK: "/tmp/agent" };
    const base = ["init", "-y", "--host", "vm.example.com", "--user", "alice", "--domain", "tun.example.com"];
    const ok = await runTunToEnd([...base, "--tls", "internal"], env);
    expect(ok.code).toBe(0);
    expect(JSON.parse(readFileSync(env.TUN_CONFIG, "utf8")).tls).toBe("internal");
    expect(ok.stderr).toMatch(/tls internal: Caddy signs tunnel certificates with its own CA/);
    expect(ok.stderr).toMatch(/ssh -p 22 alice@vm\.example\.com sudo cat \/var\/lib\/caddy\/.*root\.crt/);
    const bad = await runTunToEnd([...base, "--tls", "letsencrypt"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^tun: config "tls" \(from --tls\) must be one of acme, internal, off/);
  });
});
