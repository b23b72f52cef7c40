// The backoff itself: exponential with jitter, capped, Retry-After as a floor,
// only for Azure's retryable errors.
import { describe, expect, test } from "vitest";
import { ArmError } from "../../cli/port25/arm-client.js";
import { backoffDelayMs, withRetry, type RetryNotice } from "../../cli/port25/retry.js";

const policy = { attempts: 4, baseMs: 20, maxMs: 60 };

describe("backoff", () => {
  test("doubles per attempt within [step/2, step], capped at maxMs", () => {
    expect([1, 2, 3, 4].map((a) => backoffDelayMs(a, policy, () => 0))).toEqual([10, 20, 30, 30]);
    expect([1, 2, 3, 4].map((a) => backoffDelayMs(a, policy, () => 1))).toEqual([20, 40, 60, 60]);
  });

  test("retries busy and throttled errors, honouring Retry-After as a floor, then gives up", async () => {
    const notices: RetryNotice[] = [];
    let calls = 0;
    const started = Date.now();
    await expect(
      withRetry(
        async () => {
          calls++;
          throw calls === 1
            ? new ArmError("throttled", "throttled", 429, "TooManyRequests", 300)
            : new ArmError("busy", "busy", 409, "AnotherOperationInProgress");
        },
        policy,
        (n) => notices.push(n),
      ),
    ).rejects.toThrow("busy");
    expect(calls).toBe(4);
    expect(notices.map((n) => n.attempt)).toEqual([1, 2, 3]);
    expect(notices[0]!.delayMs).toBe(300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  test("does not retry other errors", async () => {
    let calls = 0;
    const fail = (err: Error) =>
      withRetry(async () => {
        calls++;
        throw err;
      }, policy);
    await expect(fail(new ArmError("nope", "notFound", 404))).rejects.toThrow("nope");
    await expect(fail(new ArmError("taken", "conflict", 400))).rejects.toThrow("taken");
    await expect(fail(new TypeError("bug"))).rejects.toThrow("bug");
    expect(calls).toBe(3);
  });

  test("an abort signal ends the wait between tries", async () => {
    const abort = new AbortController();
    const run = withRetry(
      async () => {
        throw new ArmError("busy", "busy", 409);
      },
      { attempts: 5, baseMs: 60_000, maxMs: 60_000, signal: abort.signal },
      () => abort.abort(),
    );
    await expect(run).rejects.toThrow(/abort/i);
  });
});
