// The chain proof counts only its own request (it carries a unique token):
// a stray request that reaches the tunnel while the proof waits for a
// certificate neither proves the chain nor makes it fail with a false
// diagnosis, and the certificate failure is reported in one line.
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTun, startHarness, waitUntil, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ tls: true, unobtainableCertificates: true });
});
afterAll(async () => {
  await h?.stop();
});

function stray(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/stray", headers: { host: "stray.example" } },
      (res) => {
        res.resume();
        res.once("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.once("error", reject);
    req.end();
  });
}

describe("the chain proof", () => {
  it("ignores a stray request through the tunnel during the certificate wait, and fails in one honest line", async () => {
    const tun = runTun(["up", "stray", String(h.app.port)], h.env({ TUN_CERT_WAIT_MS: "4000" }));
    try {
      await tun.waitFor(/waiting for Caddy to obtain a TLS certificate for stray\.tun\.test/);
      const routes = await h.caddy.routes();
      const vars = routes.find((r) => r["@id"] === "tun-stray")!.handle!.find((x) => x.handler === "vars")!;
      const upstream = Number(vars.tun_upstream);
      const hitsBefore = h.app.hits;
      // Someone else's request arrives through the forward while the proof waits.
      expect(await stray(upstream)).toBe(200);
      expect(h.app.hits).toBe(hitsBefore + 1);
      const { code } = await tun.exited;
      expect(code).toBe(1);
      const err = tun.stderr();
      expect(err).toMatch(
        /tun: chain check failed at the Caddy hop: Caddy at 127\.0\.0\.1:\d+ did not complete a TLS handshake for stray\.tun\.test \(TLS handshake failed \(tlsv1 alert internal error\)\); it may still be obtaining the certificate/,
      );
      expect(err).not.toMatch(/without using the tunnel/);
      expect(err).not.toMatch(/SSL routines/);
      for (const line of err.trimEnd().split("\n")) expect(line).toMatch(/^(\[|tun: )/);
      await waitUntil("the route to be gone", async () => !(await h.caddy.routeIds()).includes("tun-stray"));
    } finally {
      await tun.stop();
    }
  });
});
