// The lease life cycle against the fake ARM, in process: open, renew (the
// expiry moves), close; several leases side by side; renewal trouble.
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { parseDescription } from "../../cli/port25/description.js";
import { HeldLease } from "../../cli/port25/held-lease.js";
import { createLease, isOwnLease, listLeases, sweepLeases } from "../../cli/port25/lease.js";
import type { FakeRule } from "../fakes/fake-arm.js";
import { configFor, startHarness, waitUntil, type Harness } from "./helpers.js";

let h: Harness;
const held: HeldLease[] = [];
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await Promise.all(held.splice(0).map((l) => l.close().catch(() => undefined)));
  await h.arm.stop();
});

const TTL_MS = 60_000;
const expiryOf = (r: FakeRule | undefined) => parseDescription(r?.description)?.expiresAt.getTime() ?? NaN;
const ruleOf = (name: string) => h.arm.rules().find((r) => r.name === name);
const liveLeases = () =>
  h.arm
    .rules()
    .filter(
      (r) =>
        r.name.startsWith("tun-smtp-") && expiryOf(r) > Date.now() && r.provisioningState === "Succeeded",
    );

async function hold(tunnel: string, renewIntervalMs = 100_000, owner?: string): Promise<HeldLease> {
  const g = await h.context(owner ? { owner } : {});
  const lease = await HeldLease.open(g.lease, { tunnel, ttlMs: TTL_MS, renewIntervalMs });
  held.push(lease);
  return lease;
}

describe("a held lease", () => {
  test("creates an inbound allow rule for TCP 25 with owner, tunnel and expiry, and deletes it on close", async () => {
    const lease = await hold("api");
    const rule = ruleOf(lease.rule)!;
    expect(rule).toMatchObject({
      name: `tun-smtp-${lease.leaseId}`,
      access: "Allow",
      direction: "Inbound",
      protocol: "Tcp",
      destinationPortRange: "25",
      sourceAddressPrefix: "*",
      provisioningState: "Succeeded",
    });
    expect(rule.priority).toBeGreaterThanOrEqual(3000);
    expect(rule.priority).toBeLessThanOrEqual(3099);
    const rec = parseDescription(rule.description)!;
    expect(rec.tunnel).toBe("api");
    expect(rec.owner).toMatch(/@/);
    expect(Math.abs(rec.expiresAt.getTime() - (Date.now() + TTL_MS))).toBeLessThan(5_000);

    await lease.close();
    expect(ruleOf(lease.rule)).toBeUndefined();
    await lease.close(); // idempotent
    expect(h.lines.some((l) => l.startsWith("[port25]") && l.includes("closed"))).toBe(true);
  });

  test("renewal moves the expiry and keeps the priority", async () => {
    const lease = await hold("api", 300);
    const first = ruleOf(lease.rule)!;
    await waitUntil(() => expiryOf(ruleOf(lease.rule)) >= expiryOf(first) + 1000, "the expiry to move");
    expect(ruleOf(lease.rule)!.priority).toBe(first.priority);
    await waitUntil(
      () => lease.expiresAt.getTime() > expiryOf(first),
      "the held lease to learn its new expiry",
    );
  });

  test("two leases side by side: closing one keeps port 25 open", async () => {
    const [a, b] = await Promise.all([hold("api"), hold("web")]);
    expect(a.rule).not.toBe(b.rule);
    expect(ruleOf(a.rule)!.priority).not.toBe(ruleOf(b.rule)!.priority);
    expect(liveLeases()).toHaveLength(2);
    await a.close();
    expect(liveLeases().map((r) => r.name)).toEqual([b.rule]);
    await b.close();
    expect(liveLeases()).toHaveLength(0);
  });

  test("skips priorities taken by other rules (either direction counts only inbound)", async () => {
    const g = await h.context({ config: configFor(h.arm, { priorityRange: "3000-3002" }) });
    h.arm.seedRule({ name: "allow-https", priority: 3000, destinationPortRange: "443" });
    h.arm.seedRule({ name: "outbound-x", priority: 3001, direction: "Outbound" });
    h.arm.seedRule({ name: "deny-rdp", priority: 3002, access: "Deny", destinationPortRange: "3389" });
    const c = await createLease(g.lease, { tunnel: "api", ttlMs: TTL_MS });
    expect(c.priority).toBe(3001);
    await expect(createLease(g.lease, { tunnel: "web", ttlMs: TTL_MS })).rejects.toThrow(
      /no free inbound priority in azure.priorityRange 3000-3002.*widen azure.priorityRange/,
    );
  });

  test("a list of source prefixes becomes sourceAddressPrefixes; one prefix sourceAddressPrefix", async () => {
    const many = await h.context({
      config: configFor(h.arm, { sourcePrefixes: "203.0.113.0/24, 198.51.100.7/32" }),
    });
    const a = await createLease(many.lease, { tunnel: "a", ttlMs: TTL_MS });
    expect(ruleOf(a.rule)).toMatchObject({ sourceAddressPrefixes: ["203.0.113.0/24", "198.51.100.7/32"] });
    expect(ruleOf(a.rule)!.sourceAddressPrefix).toBeUndefined();
    const one = await h.context({ config: configFor(h.arm, { sourcePrefixes: ["192.0.2.0/24"] }) });
    const b = await createLease(one.lease, { tunnel: "b", ttlMs: TTL_MS });
    expect(ruleOf(b.rule)).toMatchObject({ sourceAddressPrefix: "192.0.2.0/24" });
  });

  test("a failed renewal is reported once, retried, and the lease recovers", async () => {
    const lease = await hold("api", 150);
    const before = expiryOf(ruleOf(lease.rule));
    // Every request fails for a while: each renewal exhausts its retries.
    h.arm.inject({ type: "busy", times: 20 });
    await waitUntil(() => h.arm.pendingFaults() === 0, "the injected failures to be consumed", 30_000);
    await waitUntil(
      () => h.lines.some((l) => l.includes(`lease ${lease.rule} renewed again`)),
      "a renewal to succeed again",
      15_000,
    );
    expect(expiryOf(ruleOf(lease.rule))).toBeGreaterThan(before);
    const failed = h.lines.filter((l) => l.includes("could not renew lease"));
    // Nothing else was printed during the outage: no per-retry chatter on the tunnel's console.
    expect(h.lines.filter((l) => l.includes(lease.rule))).toEqual([
      failed[0],
      expect.stringContaining("renewed again"),
    ]);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(
      /^\[port25\] could not renew lease tun-smtp-.*another operation in progress.*stays open until/,
    );
  });

  test("closing does not wait for a renewal stuck on a dead network", async () => {
    const lease = await hold("api", 100);
    h.arm.inject({ type: "hang", method: "GET" });
    await waitUntil(() => h.arm.pendingFaults() === 0, "a renewal to get stuck");
    const started = Date.now();
    await lease.close();
    // The call deadline is the default 90 s: only cancelling the renewal makes this quick.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(ruleOf(lease.rule)).toBeUndefined();
    expect(h.lines.filter((l) => l.includes("could not renew"))).toEqual([]);
  });

  test("a lease closed from outside (tun port25 close) is not recreated by renewal", async () => {
    const lease = await hold("api", 150);
    const g = await h.context();
    const { leases } = await listLeases(g.lease);
    expect(isOwnLease(g.lease, leases[0]!)).toBe(true);
    await g.lease.client.deleteRule(lease.rule);
    await waitUntil(
      () => h.lines.some((l) => l.includes("was removed from the NSG")),
      "the revocation notice",
    );
    expect(ruleOf(lease.rule)).toBeUndefined();
    await lease.close(); // already gone: still fine
  });

  test("a lease swept after it expired (renewal outage) is put back by the next renewal", async () => {
    const g = await h.context();
    const lease = await HeldLease.open(
      { ...g.lease, now: () => Date.now() },
      { tunnel: "api", ttlMs: 1_000, renewIntervalMs: 100_000 },
    );
    held.push(lease);
    await waitUntil(() => Date.now() > lease.expiresAt.getTime() + 1000, "the lease to expire", 5_000);
    const swept = await sweepLeases(g.lease);
    expect(swept.removed.map((l) => l.rule)).toEqual([lease.rule]);
    await lease.renewNow();
    expect(expiryOf(ruleOf(lease.rule))).toBeGreaterThan(Date.now());
  });
});

describe("sweep", () => {
  test("removes expired and unreadable lease rules only, leaving live ones and other rules", async () => {
    const g = await h.context();
    const live = await createLease(g.lease, { tunnel: "live", ttlMs: TTL_MS });
    h.arm.seedRule({
      name: "tun-smtp-old",
      priority: 3050,
      destinationPortRange: "25",
      description: "tun lease owner=bob@desk tunnel=web exp=2020-01-01T00:00:00Z",
    });
    h.arm.seedRule({
      name: "tun-smtp-garbled",
      priority: 3051,
      destinationPortRange: "25",
      description: "hand-edited",
    });
    h.arm.seedRule({
      name: "allow-ssh",
      priority: 300,
      destinationPortRange: "22",
      description: "exp=2020-01-01T00:00:00Z",
    });
    const result = await sweepLeases(g.lease);
    expect(result.removed.map((l) => l.rule).sort()).toEqual(["tun-smtp-garbled", "tun-smtp-old"]);
    expect(
      h.arm
        .rules()
        .map((r) => r.name)
        .sort(),
    ).toEqual(["allow-ssh", live.rule].sort());
    expect(
      h.lines.some((l) => /^\[port25\] swept expired lease tun-smtp-old \(owner=bob@desk tunnel=web/.test(l)),
    ).toBe(true);
    expect((await sweepLeases(g.lease)).removed).toHaveLength(0);
  });
});

describe("clocks", () => {
  test("expiries are written and judged on Azure's clock, not this machine's", async () => {
    const SKEW_MS = -10 * 60_000; // this laptop's clock runs 10 minutes ahead of Azure
    const skewed = await startHarness({ clockSkewMs: SKEW_MS });
    try {
      const g = await skewed.context();
      const c = await createLease(g.lease, { tunnel: "api", ttlMs: TTL_MS });
      const rec = parseDescription(skewed.arm.rules()[0]!.description)!;
      expect(Math.abs(rec.expiresAt.getTime() - (Date.now() + SKEW_MS + TTL_MS))).toBeLessThan(5_000);
      // By Azure's clock this lease is live, by ours long expired: a sweep must keep it.
      expect((await sweepLeases(g.lease)).removed).toHaveLength(0);
      expect(skewed.arm.rules().map((r) => r.name)).toEqual([c.rule]);
    } finally {
      await skewed.arm.stop();
    }
  });
});
