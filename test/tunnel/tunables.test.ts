// The link timing defaults must detect a dead network within 30 s (issue 4).
import { describe, expect, it } from "vitest";
import { linkTunables } from "../../cli/tunnel/tunables.js";

describe("link timing", () => {
  it("detects a silent network within 30 s by default", () => {
    const t = linkTunables({});
    // ssh2 gives up after keepaliveCountMax unanswered probes; the first is sent up to one interval after the last traffic.
    expect(t.keepaliveIntervalMs * (t.keepaliveCountMax + 1)).toBeLessThanOrEqual(30_000);
    expect(t.keepaliveIntervalMs).toBeGreaterThan(0);
  });

  it("takes overrides from TUN_* variables and rejects nonsense with the variable's name", () => {
    expect(linkTunables({ TUN_SSH_KEEPALIVE_MS: "250" }).keepaliveIntervalMs).toBe(250);
    expect(() => linkTunables({ TUN_RECONNECT_BUDGET_MS: "soon" })).toThrow(/TUN_RECONNECT_BUDGET_MS/);
  });
});
