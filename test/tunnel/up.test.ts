// `tun up` end to end against real sshd, Caddy and sink on loopback.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpGet } from "../helpers/caddy.js";
import { DOMAIN, runTun, startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

describe("tun up", () => {
  it("serves the local app through Caddy, shows mail for its subdomain, and removes the route on Ctrl-C", async () => {
    const tun = runTun(["up", "api", String(h.app.port)], h.env());
    try {
      await tun.waitFor(/streaming mail for @api\.tun\.test/);
      expect(tun.stderr()).toContain(`https://api.${DOMAIN} -> localhost:${h.app.port}`);
      expect(await h.caddy.routeIds()).toContain("tun-api");

      const res = await h.caddy.get(`api.${DOMAIN}`, "/hello");
      expect(res.status).toBe(200);
      expect(res.body).toBe("hello from the local app /hello");

      await h.sendMail(`x@api.${DOMAIN}`, "Welcome to api");
      await h.sendMail(`x@other.${DOMAIN}`, "Not for this tunnel");
      await tun.waitFor(/Subject: Welcome to api/);
      expect(tun.stdout()).not.toContain("Not for this tunnel");

      tun.child.kill("SIGINT");
      const exit = await tun.exited;
      expect(exit.code).toBe(130);
      expect(await h.caddy.routeIds()).not.toContain("tun-api");
      // Caddy answers unmatched hosts with an empty 200: what matters is that the app is no longer reached.
      expect((await h.caddy.get(`api.${DOMAIN}`)).body).not.toContain("hello from the local app");
    } finally {
      await tun.stop();
    }
  });

  it("--json prints each message as one JSON object per line on stdout, status lines on stderr", async () => {
    const tun = runTun(["up", "jsonapi", String(h.app.port), "--json"], h.env());
    try {
      await tun.waitFor(/streaming mail for @jsonapi\.tun\.test/);
      await h.sendMail(`qa+1@jsonapi.${DOMAIN}`, "Your code is 482913");
      await tun.waitFor(/482913/);
      const lines = tun.stdout().trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      const msg = JSON.parse(lines[0]!) as { subject: string; envelope: { to: string[] } };
      expect(msg.subject).toBe("Your code is 482913");
      expect(msg.envelope.to).toEqual([`qa+1@jsonapi.${DOMAIN}`]);
      tun.child.kill("SIGINT");
      expect((await tun.exited).code).toBe(130);
    } finally {
      await tun.stop();
    }
  });

  it("names the sink when the VM's sink cannot be reached, and leaves no route", async () => {
    const { freePort } = await import("../helpers/sshd.js");
    const port = await freePort();
    const tun = runTun(["up", "nosink", String(h.app.port), "--sink", `127.0.0.1:${port}`], h.env());
    const { code } = await tun.exited;
    expect(code).toBe(1);
    expect(tun.stderr()).toMatch(
      new RegExp(
        `tun: preflight check failed: the VM's sink at 127\\.0\\.0\\.1:${port}: does not answer \\(.*refused.*\\); fix: start it`,
        "i",
      ),
    );
    expect(await h.caddy.routeIds()).not.toContain("tun-nosink");
  });

  it("puts its route back when it vanishes from Caddy while the tunnel runs (e.g. a Caddy reload)", async () => {
    const tun = runTun(["up", "comeback", String(h.app.port)], h.env());
    try {
      await tun.waitFor(/streaming mail for @comeback\.tun\.test/);
      const del = await httpGet(
        Number(h.caddy.admin.split(":")[1]),
        "/id/tun-comeback",
        { host: h.caddy.admin },
        "DELETE",
      );
      expect(del.status).toBe(200);
      await tun.waitFor(/the route for comeback\.tun\.test had been removed on the VM; added it again/);
      expect((await h.caddy.get(`comeback.${DOMAIN}`)).body).toContain("hello from the local app");
      tun.child.kill("SIGINT");
      expect((await tun.exited).code).toBe(130);
      expect(await h.caddy.routeIds()).not.toContain("tun-comeback");
    } finally {
      await tun.stop();
    }
  });
});
