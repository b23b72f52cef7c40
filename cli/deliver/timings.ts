// Timing of delivery retries. The defaults suit an app restarting under a
// file watcher; the hidden TUN_DELIVER_* variables exist so tests run the
// same code in seconds. The user-facing limit is --deliver-retry-for.
import { envInt } from "../tunnel/tunables.js";

export interface DeliveryTimings {
  /** First retry delay, ms; doubles per failed attempt up to retryMaxMs. */
  retryMinMs: number;
  retryMaxMs: number;
  /** One POST gives up on an answer after this long, ms. */
  requestTimeoutMs: number;
}

const DEFAULT_RETRY_MIN_MS = 1_000;
const DEFAULT_RETRY_MAX_MS = 60_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** --deliver-retry-for default: 10 minutes. */
export const DEFAULT_RETRY_FOR_MS = 10 * 60_000;

export function deliveryTimings(env: NodeJS.ProcessEnv = process.env): DeliveryTimings {
  return Object.freeze({
    // At least 1 ms each: a zero delay would spin and a zero timeout fail every request.
    retryMinMs: Math.max(1, envInt(env, "TUN_DELIVER_RETRY_MIN_MS", DEFAULT_RETRY_MIN_MS)),
    retryMaxMs: Math.max(1, envInt(env, "TUN_DELIVER_RETRY_MAX_MS", DEFAULT_RETRY_MAX_MS)),
    requestTimeoutMs: Math.max(1, envInt(env, "TUN_DELIVER_TIMEOUT_MS", DEFAULT_REQUEST_TIMEOUT_MS)),
  });
}
