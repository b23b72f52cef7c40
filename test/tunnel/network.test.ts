// Network loss between `tun up` and the VM: the SSH connection runs through a
// relay that can stall (no FIN, no RST: only keepalive can notice) or reset.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { DOMAIN, runTun, startHarness, type Harness, type RunningTun } from "./harness.js";

let h: Harness;
let relay: TestRelay;
let tun: RunningTun;
const NAME = "net";
const count = (text: string, needle: string): number => text.split(needle).length - 1;
const reachesApp = async (): Promise<boolean> =>
  (await h.caddy.get(`${NAME}.${DOMAIN}`).catch(() => ({ body: "" }))).body.startsWith(
    "hello from the local app",
  );

beforeAll(async () => {
  h = await startHarness();
  relay = await startRelay(h.sshd.port);
  const knownHosts = join(h.dir, "known_hosts_relay");
  writeFileSync(knownHosts, h.sshd.knownHostsLine(relay.port) + "\n");
  tun = runTun(
    ["up", NAME, String(h.app.port), "--ssh-port", String(relay.port), "--known-hosts", knownHosts],
    h.env(),
  );
  await tun.waitFor(/streaming mail for @net\.tun\.test/);
});
afterAll(async () => {
  await tun?.stop();
  await relay?.stop();
  await h?.stop();
});

describe("network loss", () => {
  it("detects a stalled link by keepalive, reconnects, and resumes route and mail without loss", async () => {
    expect(await reachesApp()).toBe(true);
    relay.stall();
    await tun.waitFor(/lost \(Keepalive timeout\); reconnecting/, 10_000);

    // Mail that arrives while the client is cut off must be shown after the reconnect.
    await h.sendMail(`during@${NAME}.${DOMAIN}`, "Sent during the outage");
    relay.resume();
    await tun.waitFor(/reconnected; https:\/\/net\.tun\.test is back/, 15_000);
    await tun.waitFor(/Subject: Sent during the outage/, 15_000);
    expect(await reachesApp()).toBe(true);

    await h.sendMail(`after@${NAME}.${DOMAIN}`, "Sent after the outage");
    await tun.waitFor(/Subject: Sent after the outage/);
    const out = tun.stdout();
    expect(count(out, "Subject: Sent during the outage")).toBe(1);
    expect(count(out, "Subject: Sent after the outage")).toBe(1);
    // The user is told once, not once per retry and not again by the mail stream.
    expect(count(tun.stderr(), "reconnecting…")).toBe(1);
    expect(tun.stderr()).not.toContain("connection to the sink lost");
  });

  it("detects a reset link, reconnects, and the route and stream work again", async () => {
    const before = count(tun.stderr(), "is back");
    relay.closeAll();
    await tun.waitFor(new RegExp(`(is back[\\s\\S]*){${before + 1}}`), 15_000);
    expect(await reachesApp()).toBe(true);
    await h.sendMail(`reset@${NAME}.${DOMAIN}`, "Sent after the reset");
    await tun.waitFor(/Subject: Sent after the reset/);
    expect(count(tun.stdout(), "Subject: Sent after the reset")).toBe(1);
    expect(tun.child.exitCode).toBeNull();
    expect((await h.caddy.routes()).filter((r) => r["@id"] === `tun-${NAME}`)).toHaveLength(1);
  });
});

describe("ending while the network is down", () => {
  it("gives up after the reconnect budget, says the janitor will clean up, and exits 1", async () => {
    const r2 = await startRelay(h.sshd.port);
    const knownHosts = join(h.dir, "known_hosts_budget");
    writeFileSync(knownHosts, h.sshd.knownHostsLine(r2.port) + "\n");
    const t = runTun(
      ["up", "budget", String(h.app.port), "--ssh-port", String(r2.port), "--known-hosts", knownHosts],
      h.env({ TUN_RECONNECT_BUDGET_MS: "1500" }),
    );
    try {
      await t.waitFor(/streaming mail for/);
      r2.stall();
      await t.waitFor(/lost \(Keepalive timeout\)/, 10_000);
      const { code } = await t.exited;
      expect(code).toBe(1);
      expect(t.stderr()).toMatch(/could not reconnect to 127\.0\.0\.1:\d+/);
      expect(t.stderr()).toMatch(
        /could not remove the Caddy route: .*; tun janitor on the VM will remove it/,
      );
    } finally {
      await t.stop();
      await r2.stop();
    }
    // What the janitor will find: the route is still there, its port dead once the relay is gone.
    expect(await h.caddy.routeIds()).toContain("tun-budget");
  });

  it("a second Ctrl-C during a slow cleanup exits at once with 130", async () => {
    const r3 = await startRelay(h.sshd.port);
    const knownHosts = join(h.dir, "known_hosts_ctrlc");
    writeFileSync(knownHosts, h.sshd.knownHostsLine(r3.port) + "\n");
    const t = runTun(
      ["up", "ctrlc", String(h.app.port), "--ssh-port", String(r3.port), "--known-hosts", knownHosts],
      // Slow keepalive: the stalled link is not noticed, so removing the route hangs in cleanup.
      h.env({ TUN_SSH_KEEPALIVE_MS: "60000" }),
    );
    try {
      await t.waitFor(/streaming mail for/);
      r3.stall();
      t.child.kill("SIGINT");
      await t.waitFor(/cleaning up \(Ctrl-C again to quit at once\)/);
      expect(t.child.exitCode).toBeNull();
      const second = Date.now();
      t.child.kill("SIGINT");
      const { code } = await t.exited;
      expect(code).toBe(130);
      expect(Date.now() - second).toBeLessThan(2_000);
      expect(t.stderr()).not.toContain("[tunnel] closed");
    } finally {
      await t.stop();
      await r3.stop();
    }
  });
});
