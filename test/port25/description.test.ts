import { describe, expect, test } from "vitest";
import {
  DESCRIPTION_MAX_CHARS,
  formatDescription,
  parseDescription,
  storedOwner,
} from "../../cli/port25/description.js";

const exp = new Date("2026-11-22T10:00:00.123Z");

describe("lease description", () => {
  test("round-trips owner, tunnel and expiry (to the second)", () => {
    const text = formatDescription({ owner: "alice@laptop", tunnel: "api", expiresAt: exp });
    expect(text).toBe("tun lease owner=alice@laptop tunnel=api exp=2026-11-22T10:00:00Z");
    expect(parseDescription(text)).toEqual({
      owner: "alice@laptop",
      tunnel: "api",
      expiresAt: new Date("2026-11-22T10:00:00Z"),
    });
  });

  test("stays within Azure's 140 characters with very long names, and ownership still matches", () => {
    const owner = "a-very-long-user-name@" + "build-agent-".repeat(12) + "host.example.internal";
    const tunnel = "t".repeat(63);
    const text = formatDescription({ owner, tunnel, expiresAt: exp });
    expect(text.length).toBeLessThanOrEqual(DESCRIPTION_MAX_CHARS);
    const rec = parseDescription(text)!;
    expect(rec.expiresAt.toISOString()).toBe("2026-11-22T10:00:00.000Z");
    expect(rec.owner).toBe(storedOwner(owner, tunnel));
    expect(rec.owner.startsWith("a-very-long-user-name@")).toBe(true);
  });

  test("spaces and '=' in values cannot break parsing", () => {
    const text = formatDescription({ owner: "bob smith@pc=1", tunnel: "x y", expiresAt: exp });
    expect(parseDescription(text)).toMatchObject({ owner: "bob_smith@pc_1", tunnel: "x_y" });
  });

  test("unknown keys are ignored; missing or bad expiry is not a lease record", () => {
    expect(parseDescription("tun lease v=2 owner=a@b tunnel=t exp=2026-01-01T00:00:00Z")?.owner).toBe("a@b");
    expect(parseDescription("tun lease owner=a@b tunnel=t")).toBeNull();
    expect(parseDescription("tun lease owner=a@b tunnel=t exp=tomorrow")).toBeNull();
    expect(parseDescription("Allow SMTP from the office")).toBeNull();
    expect(parseDescription(undefined)).toBeNull();
  });
});
