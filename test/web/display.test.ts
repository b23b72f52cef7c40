// The list's time column, formatted by hand rather than with Intl (a cold
// page's first Intl.DateTimeFormat cost 30 ms of its load): today's mail shows
// the time of day, older mail the date.
import { describe, expect, it } from "vitest";
import { formatListTime } from "../../web/src/display.js";

/** A local time as the ISO string the API sends. */
const at = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0): string =>
  new Date(y, mo - 1, d, h, mi, s).toISOString();

describe("formatListTime", () => {
  const now = new Date(2026, 11, 2, 15, 30, 0);

  it("shows today's mail as a 24-hour time of day, zero-padded", () => {
    expect(formatListTime(at(2026, 12, 2, 9, 5, 7), now)).toBe("09:05:07");
    expect(formatListTime(at(2026, 12, 2, 23, 59, 59), now)).toBe("23:59:59");
    expect(formatListTime(at(2026, 12, 2, 0, 0, 0), now)).toBe("00:00:00");
  });

  it("shows older (or future) mail as its date", () => {
    expect(formatListTime(at(2026, 12, 1, 23, 59, 59), now)).toBe("Dec 1, 2026");
    expect(formatListTime(at(2025, 1, 31, 12), now)).toBe("Jan 31, 2025");
    expect(formatListTime(at(2026, 12, 3, 0, 0, 1), now)).toBe("Dec 3, 2026");
  });
});
