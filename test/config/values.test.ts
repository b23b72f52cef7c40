import { describe, expect, it } from "vitest";
import { parseDurationMs, parseHostPort } from "../../protocol/values.js";

describe("parseHostPort", () => {
  it.each([
    ["127.0.0.1:2525", { host: "127.0.0.1", port: 2525 }],
    [" 0.0.0.0:0 ", { host: "0.0.0.0", port: 0 }],
    ["[::1]:25", { host: "::1", port: 25 }],
  ])("reads %j", (input, expected) => expect(parseHostPort(input)).toEqual(expected));

  it.each(["localhost", "h:", "h:65536", "h:000080", "my host:25", "[a b]:1", "::1:25"])(
    "rejects %j",
    (input) => expect(parseHostPort(input)).toBeNull(),
  );
});

describe("parseDurationMs", () => {
  it.each([
    ["90", 90_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["7d", 604_800_000],
    ["250ms", 250],
  ])("reads %j", (input, ms) => expect(parseDurationMs(input)).toBe(ms));

  it.each(["", "5x", "m5", "5m junk", "-1s"])("rejects %j", (input) =>
    expect(parseDurationMs(input)).toBeNull(),
  );
});
