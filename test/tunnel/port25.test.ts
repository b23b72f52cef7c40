// `tun up` and `tun janitor` with the port-25 gate, against the fake Azure
// Resource Manager (HTTPS, self-signed certificate trusted via NODE_EXTRA_CA_CERTS).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDescription } from "../../cli/port25/description.js";
import { startFakeArm, type FakeArm } from "../fakes/fake-arm.js";
import { runTun, runTunToEnd, startHarness, type Harness } from "./harness.js";

let h: Harness;
let arm: FakeArm;
let azureEnv: Record<string, string>;
const leaseRules = (): string[] =>
  arm
    .rules()
    .filter((r) => r.name.startsWith("tun-smtp-"))
    .map((r) => r.name);

beforeAll(async () => {
  [h, arm] = await Promise.all([startHarness(), startFakeArm()]);
  azureEnv = {
    ...arm.env(),
    TUN_AZURE_SUBSCRIPTION_ID: arm.subscriptionId,
    TUN_AZURE_RESOURCE_GROUP: arm.resourceGroup,
    TUN_AZURE_NSG: arm.nsg,
    TUN_AZURE_POLL_INTERVAL: "20ms",
    TUN_AZURE_RETRY_BASE: "50ms",
  };
});
afterAll(async () => {
  await Promise.allSettled([h?.stop(), arm?.stop()]);
});

describe("port-25 gate in tun up", () => {
  it("opens a lease only after the chain is proven and closes it after removing the route", async () => {
    const tun = runTun(["up", "mail25", String(h.app.port)], h.env(azureEnv));
    try {
      await tun.waitFor(/\[port25\] port 25 open/);
      const err = tun.stderr();
      expect(err.indexOf("chain checked")).toBeGreaterThan(-1);
      expect(err.indexOf("chain checked")).toBeLessThan(err.indexOf("[port25] port 25 open"));
      expect(leaseRules()).toHaveLength(1);

      tun.child.kill("SIGINT");
      expect((await tun.exited).code).toBe(130);
      expect(leaseRules()).toHaveLength(0);
      const after = tun.stderr();
      const closedAt = after.indexOf("[port25]", after.indexOf("[port25] port 25 open") + 1);
      expect(closedAt).toBeGreaterThan(-1);
      // routes go first, so the public URL stops answering at once (docs/tunnel.md, teardown)
      expect(after.indexOf("removed the route")).toBeGreaterThan(-1);
      expect(closedAt).toBeGreaterThan(after.indexOf("removed the route"));
    } finally {
      await tun.stop();
    }
  });

  it("opens no lease when the chain fails", async () => {
    const r = await runTunToEnd(["up", "broken25", "1"], h.env(azureEnv));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/preflight check failed: local app on localhost:1: nothing is listening/);
    expect(leaseRules()).toHaveLength(0);
  });

  it("--no-port25 skips the gate with a warning", async () => {
    const tun = runTun(["up", "skip25", String(h.app.port), "--no-port25"], h.env(azureEnv));
    try {
      await tun.waitFor(/streaming mail for/);
      expect(tun.stderr()).toContain("[port25] warning: --no-port25");
      expect(leaseRules()).toHaveLength(0);
      tun.child.kill("SIGINT");
      await tun.exited;
    } finally {
      await tun.stop();
    }
  });

  it("tun janitor also sweeps expired leases when azure is configured", async () => {
    arm.seedRule({
      name: "tun-smtp-expired",
      priority: 3050,
      description: formatDescription({
        owner: "eve@gone",
        tunnel: "api",
        expiresAt: new Date("2020-01-01T00:00:00Z"),
      }),
    });
    const r = await runTunToEnd(["janitor"], h.env(azureEnv));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/port-25 leases: 1 expired removed/);
    expect(leaseRules()).not.toContain("tun-smtp-expired");
  });
});
