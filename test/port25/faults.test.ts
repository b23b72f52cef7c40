// Every Azure failure the gate must survive or explain, injected into the
// fake ARM: concurrency errors are retried with backoff, throttling honours
// Retry-After, priority conflicts move on, and the rest become one line.
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { createGateContext } from "../../cli/port25/context.js";
import { createLease, deleteLease, listLeases } from "../../cli/port25/lease.js";
import { configFor, FAST_TIMINGS_ENV, startHarness, type Harness } from "./helpers.js";

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(() => h.arm.stop());

const TTL_MS = 60_000;
const puts = () => h.arm.requests().filter((r) => r.method === "PUT");

describe("retried Azure errors", () => {
  test("409 AnotherOperationInProgress on PUT and DELETE is retried", async () => {
    const g = await h.context();
    h.arm.inject({ type: "busy", method: "PUT", times: 3 });
    const c = await createLease(g.lease, { tunnel: "api", ttlMs: TTL_MS });
    expect(puts().map((r) => r.status)).toEqual([409, 409, 409, 201]);
    expect(
      h.lines.filter((l) =>
        /^\[port25\] could not write rule tun-smtp-\w+: .*another operation in progress.*; retry \d of 7 in \d/.test(
          l,
        ),
      ),
    ).toHaveLength(3);
    h.arm.inject({ type: "busy", method: "DELETE", times: 2 });
    await deleteLease(g.lease, c.rule);
    expect(h.arm.rules()).toHaveLength(0);
  });

  test("an operation that ends Failed with AnotherOperationInProgress is retried (and left nothing behind)", async () => {
    const g = await h.context();
    h.arm.inject({ type: "lroFailed", method: "PUT", times: 2 });
    const c = await createLease(g.lease, { tunnel: "api", ttlMs: TTL_MS });
    expect(puts()).toHaveLength(3);
    expect(h.arm.rules().map((r) => [r.name, r.provisioningState])).toEqual([[c.rule, "Succeeded"]]);
    h.arm.inject({ type: "lroFailed", method: "DELETE" });
    await deleteLease(g.lease, c.rule);
    expect(h.arm.rules()).toHaveLength(0);
  });

  test("429 with Retry-After: the wait is honoured before the next try", async () => {
    const g = await h.context();
    h.arm.inject({ type: "throttle", retryAfterSeconds: 1, method: "GET" });
    await listLeases(g.lease);
    const gets = h.arm.requests().filter((r) => r.method === "GET");
    expect(gets.map((r) => r.status)).toEqual([429, 200]);
    expect(gets[1]!.at - gets[0]!.at).toBeGreaterThanOrEqual(950);
  });

  test("429 beyond the SDK's own retries, and 429 without Retry-After, are retried by the gate", async () => {
    const g = await h.context();
    h.arm.inject({ type: "throttle", retryAfterSeconds: 0, method: "PUT", times: 6 });
    await createLease(g.lease, { tunnel: "a", ttlMs: TTL_MS });
    expect(puts().map((r) => r.status)).toEqual([429, 429, 429, 429, 429, 429, 201]);
    h.arm.inject({ type: "throttle", retryAfterSeconds: null, method: "PUT", times: 2 });
    await createLease(g.lease, { tunnel: "b", ttlMs: TTL_MS });
    expect(
      puts()
        .slice(7)
        .map((r) => r.status),
    ).toEqual([429, 429, 201]);
    expect(h.lines.some((l) => l.includes("throttling requests (429)"))).toBe(true);
  });

  test("400 SecurityRuleConflict on a priority picks another free priority", async () => {
    const g = await h.context({ config: configFor(h.arm, { priorityRange: "3000-3001" }) });
    h.arm.inject({ type: "priorityConflict", priority: 3000 });
    h.arm.inject({ type: "priorityConflict", priority: 3001 });
    await expect(createLease(g.lease, { tunnel: "x", ttlMs: TTL_MS })).rejects.toThrow(
      /no free inbound priority/,
    );
    h.arm.inject({ type: "priorityConflict", priority: 3000 });
    const c = await createLease(g.lease, { tunnel: "api", ttlMs: TTL_MS });
    expect(c.priority).toBe(3001);
  });

  test("concurrent creates racing for a two-priority range both succeed on different priorities", async () => {
    const cfg = configFor(h.arm, { priorityRange: "3000-3001" });
    const [a, b] = await Promise.all([h.context({ config: cfg }), h.context({ config: cfg })]);
    // Both list the empty NSG first, so they may pick the same priority; the loser gets 400 and moves on.
    const rules = (await listLeases(a.lease)).rules;
    const [x, y] = await Promise.all([
      createLease(a.lease, { tunnel: "a", ttlMs: TTL_MS, rules }),
      createLease(b.lease, { tunnel: "b", ttlMs: TTL_MS, rules }),
    ]);
    expect(new Set([x.priority, y.priority])).toEqual(new Set([3000, 3001]));
  });

  test("gives up after the retry budget with one clear line", async () => {
    const g = await h.context();
    h.arm.inject({ type: "busy", method: "PUT", times: 100 });
    await expect(createLease(g.lease, { tunnel: "api", ttlMs: TTL_MS })).rejects.toThrow(
      /^could not write rule tun-smtp-\w+: Azure reports another operation in progress on the NSG \(409\)$/,
    );
    expect(puts()).toHaveLength(8);
  });
});

describe("explained failures", () => {
  test("closing an already-absent rule counts as closed (204)", async () => {
    const g = await h.context();
    await deleteLease(g.lease, "tun-smtp-neverexisted");
    expect(h.arm.requests().at(-1)).toMatchObject({ method: "DELETE", status: 204 });
  });

  test("a missing NSG and a missing resource group are named as such", async () => {
    const noNsg = await h.context({ config: configFor(h.arm, { nsg: "nope-nsg" }) });
    await expect(listLeases(noNsg.lease)).rejects.toThrow(
      /^network security group "nope-nsg" not found in resource group "tun-rg"; check azure.nsg$/,
    );
    const noRg = await h.context({ config: configFor(h.arm, { resourceGroup: "nope-rg" }) });
    await expect(listLeases(noRg.lease)).rejects.toThrow(
      /^resource group "nope-rg" not found in subscription .*; check azure.resourceGroup$/,
    );
  });

  test("403 names the missing permission; a passing 500 is retried by the SDK", async () => {
    const g = await h.context();
    h.arm.inject({
      type: "error",
      status: 403,
      code: "AuthorizationFailed",
      message: "The client does not have authorization to perform action.",
      method: "PUT",
    });
    await expect(createLease(g.lease, { tunnel: "api", ttlMs: TTL_MS })).rejects.toThrow(
      /^could not write rule tun-smtp-\w+: the signed-in identity is not allowed to \(403 AuthorizationFailed\); grant it "Network Contributor" on network security group "tun-vm-nsg"/,
    );
    h.arm.inject({ type: "error", status: 500, code: "InternalServerError", method: "GET" });
    expect((await listLeases(g.lease)).leases).toEqual([]);
    expect(
      h.arm
        .requests()
        .slice(-2)
        .map((r) => r.status),
    ).toEqual([500, 200]);
  });

  test("a call that gets no answer fails within TUN_AZURE_CALL_TIMEOUT with one line", async () => {
    const g = await h.context({ env: { TUN_AZURE_CALL_TIMEOUT: "400ms" } });
    h.arm.inject({ type: "hang", method: "GET" });
    const started = Date.now();
    await expect(listLeases(g.lease)).rejects.toThrow(
      /^could not read network security group "tun-vm-nsg" in resource group "tun-rg": no answer from Azure Resource Manager at https:\/\/127.0.0.1:\d+ within 400ms$/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test("a rejected access token says so and how to get a fresh one", async () => {
    const g = await h.context({ env: { TUN_AZURE_ACCESS_TOKEN: "expired-token" } });
    await expect(listLeases(g.lease)).rejects.toThrow(
      /^Azure rejected the token in TUN_AZURE_ACCESS_TOKEN \(401 InvalidAuthenticationToken\); get a fresh one with `az account get-access-token.*`az login`$/,
    );
  });

  test("an unreachable endpoint and an untrusted certificate are named", async () => {
    const port = Number(new URL(h.arm.endpoint).port);
    await h.arm.stop();
    const gone = await h.context();
    await expect(listLeases(gone.lease)).rejects.toThrow(
      new RegExp(`^cannot reach Azure Resource Manager at https://127.0.0.1:${port} .*ECONNREFUSED`),
    );
    h = await startHarness();
    const untrusted = await createGateContext(configFor(h.arm), {
      log: () => undefined,
      env: { TUN_AZURE_ENDPOINT: h.arm.endpoint, TUN_AZURE_ACCESS_TOKEN: h.arm.token, ...FAST_TIMINGS_ENV },
    });
    await expect(listLeases(untrusted.lease)).rejects.toThrow(
      /TLS certificate of https:\/\/127.0.0.1:\d+ is not trusted .*NODE_EXTRA_CA_CERTS/,
    );
  });
});
