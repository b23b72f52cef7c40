// Retrying Azure's concurrency errors. NSG changes are serialised by Azure, so
// several tunnels renewing at once collide (409 AnotherOperationInProgress, or
// an accepted change whose operation ends Failed with that code) and a busy
// subscription is throttled (429). Backoff is exponential with jitter so that
// colliding clients spread out; a Retry-After from Azure is a floor.
import { setTimeout as sleep } from "node:timers/promises";
import { ArmError } from "./arm-client.js";

export interface RetryPolicy {
  /** Total tries, the first included. */
  attempts: number;
  baseMs: number;
  maxMs: number;
  /** Aborts the wait between tries (not a request already sent). */
  signal?: AbortSignal;
}

export interface RetryNotice {
  attempt: number;
  delayMs: number;
  error: ArmError;
}

/** Equal jitter: half the exponential step fixed, half random (never zero, never synchronised). */
export function backoffDelayMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

export async function withRetry<T>(
  fn: () => Promise<T>,
  policy: RetryPolicy,
  onRetry?: (notice: RetryNotice) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ArmError) || !err.retryable || attempt >= policy.attempts) throw err;
      let delayMs = backoffDelayMs(attempt, policy);
      if (err.retryAfterMs !== undefined) delayMs = Math.max(delayMs, err.retryAfterMs);
      onRetry?.({ attempt, delayMs, error: err });
      await sleep(delayMs, undefined, policy.signal ? { signal: policy.signal } : undefined);
    }
  }
}
