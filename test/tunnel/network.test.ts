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
