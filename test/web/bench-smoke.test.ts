// A small run of the page-load bench (bench/ui-load.mjs --quick), so the
// bench cannot rot: it fills a real `tun sink`, loads the UI in chromium,
// scrolls and bursts, and prints its figures. The full run (50,000 messages)
// is `node bench/ui-load.mjs`, outside npm test.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ensureWebBuilt } from "./harness.js";

const SCRIPT = fileURLToPath(new URL("../../bench/ui-load.mjs", import.meta.url));
const SMOKE_TIMEOUT_MS = 180_000;

describe("bench/ui-load.mjs --quick", () => {
  it(
    "measures a page load, a scroll and a burst",
    async () => {
      ensureWebBuilt();
      const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, "--quick"], {
        timeout: SMOKE_TIMEOUT_MS,
      });
      const result = JSON.parse(stdout.trim().split("\n").pop()!) as Record<string, number>;
      expect(result.stored).toBe(300);
      expect(result.loadMedianMs).toBeGreaterThan(0);
      expect(result.scrollRows).toBe(300);
      expect(result.burstMessages).toBe(100);
      expect(result.burstLongestTaskMs).toBeGreaterThanOrEqual(0);
    },
    SMOKE_TIMEOUT_MS,
  );
});
