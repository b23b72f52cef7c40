// `tun up` against a Caddy that serves the tunnel server with TLS, as on the
// real VM: the chain proof speaks TLS with the tunnel's name, and the public
// URL answers with a certificate for that name.
import { request } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOMAIN, runTun, startHarness, waitUntil, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ tls: true });
});
afterAll(async () => {
  await h?.stop();
});

function httpsGet(host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: h.caddy.httpPort,
        path: "/tls",
        servername: host,
        headers: { host },
        ca: h.caddy.rootCa(),
      },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("tun up with TLS on Caddy", () => {
  it("proves the chain over TLS and serves https://<name>.<domain> with a valid certificate", async () => {
    const tun = runTun(["up", "secure", String(h.app.port)], h.env());
    try {
      await tun.waitFor(/streaming mail for @secure\.tun\.test/, 60_000);
      expect(tun.stderr()).toContain(`https://secure.${DOMAIN} -> localhost:${h.app.port} (chain checked`);
      const res = await httpsGet(`secure.${DOMAIN}`);
      expect(res).toEqual({ status: 200, body: "hello from the local app /tls" });
      tun.child.kill("SIGINT");
      expect((await tun.exited).code).toBe(130);
      await waitUntil("the route to be gone", async () => (await h.caddy.routes()).length === 0);
    } finally {
      await tun.stop();
    }
  });
});

describe("tun up while Caddy cannot get a certificate", () => {
  let h2: Harness;
  beforeAll(async () => {
    h2 = await startHarness({ tls: true, unobtainableCertificates: true });
  });
  afterAll(async () => {
    await h2?.stop();
  });

  it("waits for the certificate, then names the Caddy hop and leaves no route", async () => {
    const tun = runTun(["up", "nocert", String(h2.app.port)], h2.env({ TUN_CERT_WAIT_MS: "2000" }));
    try {
      await tun.waitFor(/waiting for Caddy to obtain a TLS certificate for nocert\.tun\.test/);
      const { code } = await tun.exited;
      expect(code).toBe(1);
      expect(tun.stderr()).toMatch(
        /tun: chain check failed at the Caddy hop: Caddy at 127\.0\.0\.1:\d+ did not complete a TLS handshake for nocert\.tun\.test/,
      );
      expect(await h2.caddy.routes()).toEqual([]);
    } finally {
      await tun.stop();
    }
  });
});
