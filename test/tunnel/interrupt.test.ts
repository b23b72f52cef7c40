// Ctrl-C while `tun up` waits (here: for a certificate Caddy can never get)
// ends the wait at once: the process exits within 1 s and leaves no route.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTun, startHarness, type Harness } from "./harness.js";

/** Issue 15: Ctrl-C during any wait exits within this long, ms. */
const CTRL_C_EXIT_MS = 1_000;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ tls: true, unobtainableCertificates: true });
});
afterAll(async () => {
  await h?.stop();
});

describe("Ctrl-C while waiting", () => {
  it("during a stalled first-certificate wait exits 130 within 1 s and releases the route", async () => {
    // The default certificate wait (2 minutes), as a new operator would have it.
    const tun = runTun(["up", "stuck", String(h.app.port)], h.env());
    try {
      await tun.waitFor(/waiting for Caddy to obtain a TLS certificate for stuck\.tun\.test/);
      expect(await h.caddy.routeIds()).toContain("tun-stuck");
      const sent = Date.now();
      tun.child.kill("SIGINT");
      const { code } = await tun.exited;
      const tookMs = Date.now() - sent;
      expect(code).toBe(130);
      expect(tookMs).toBeLessThan(CTRL_C_EXIT_MS);
      expect(await h.caddy.routeIds()).toEqual([]);
      expect(tun.stderr()).toContain("removed the route for stuck.tun.test");
    } finally {
      await tun.stop();
    }
  });

  it("a second Ctrl-C right after the first still releases the route, and exits within 1 s", async () => {
    const tun = runTun(["up", "twice", String(h.app.port)], h.env());
    try {
      await tun.waitFor(/waiting for Caddy to obtain a TLS certificate for twice\.tun\.test/);
      const sent = Date.now();
      tun.child.kill("SIGINT");
      tun.child.kill("SIGINT");
      const { code } = await tun.exited;
      expect(code).toBe(130);
      expect(Date.now() - sent).toBeLessThan(CTRL_C_EXIT_MS);
      expect(await h.caddy.routeIds()).toEqual([]);
    } finally {
      await tun.stop();
    }
  });
});
