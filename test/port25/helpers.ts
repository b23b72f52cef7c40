// Shared set-up for the port-25 tests: a fake ARM and an in-process lease
// context pointed at it (the SDK trusts the fake's certificate through the
// client's TLS options, never by disabling verification).
import { loadConfig, type TunConfig } from "../../cli/config/config.js";
import { createGateContext, type GateContext } from "../../cli/port25/context.js";
import { startFakeArm, type FakeArm, type FakeArmOptions } from "../fakes/fake-arm.js";

export const FAST_TIMINGS_ENV = {
  TUN_AZURE_POLL_INTERVAL: "20ms",
  TUN_AZURE_RETRY_BASE: "50ms",
  TUN_AZURE_RENEW_INTERVAL: "200ms",
};

export function configFor(arm: FakeArm, extra: Record<string, unknown> = {}): TunConfig {
  return loadConfig({
    file: "/nonexistent/tun-config.json",
    env: {},
    flags: {
      azure: { subscriptionId: arm.subscriptionId, resourceGroup: arm.resourceGroup, nsg: arm.nsg, ...extra },
    },
  });
}

export interface Harness {
  arm: FakeArm;
  lines: string[];
  context(opts?: { owner?: string; config?: TunConfig; env?: Record<string, string> }): Promise<GateContext>;
}

export async function startHarness(opts?: FakeArmOptions): Promise<Harness> {
  const arm = await startFakeArm(opts);
  const lines: string[] = [];
  return {
    arm,
    lines,
    context: (o = {}) =>
      createGateContext(o.config ?? configFor(arm), {
        log: (l) => lines.push(l),
        env: {
          TUN_AZURE_ENDPOINT: arm.endpoint,
          TUN_AZURE_ACCESS_TOKEN: arm.token,
          ...FAST_TIMINGS_ENV,
          ...o.env,
        },
        caPem: arm.caPem,
        ...(o.owner ? { owner: o.owner } : {}),
      }),
  };
}

/** Polls `check` until it returns true or the deadline passes (no fixed sleeps). */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
