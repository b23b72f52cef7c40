// Process-level knobs of the port-25 gate that are not part of the tunnel
// config: which Resource Manager to talk to, an optional ready-made bearer
// token, and timings. Read once from the environment into a frozen object.
import { parseDurationMs } from "../../protocol/values.js";
import { UsageError } from "../errors.js";

export const DEFAULT_ARM_ENDPOINT = "https://management.azure.com";
/** How often a held lease is renewed, at most (ms); never more than a third of the TTL. */
export const RENEW_INTERVAL_MS = 60_000;
/** Long-running-operation poll interval (ms). Real NSG updates take 10-30 s. */
export const LRO_POLL_INTERVAL_MS = 2_000;
/** First backoff step for AnotherOperationInProgress / throttling retries (ms). */
export const RETRY_BASE_MS = 1_000;
/** Largest single backoff step (ms). */
export const RETRY_MAX_MS = 20_000;
/** Deadline for one Azure call, long-running-operation polling included (ms). */
export const ARM_CALL_TIMEOUT_MS = 90_000;
/** Attempts per Azure call before giving up (the first try included). */
export const RETRY_ATTEMPTS = 8;

export interface GateTimings {
  renewIntervalMs: number;
  pollIntervalMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  retryAttempts: number;
  callTimeoutMs: number;
}

export interface ArmSettings {
  /** Resource Manager base URL, no trailing slash. */
  endpoint: string;
  /** TUN_AZURE_ACCESS_TOKEN, when set: used instead of DefaultAzureCredential. */
  accessToken: string | null;
  timings: GateTimings;
}

function duration(env: NodeJS.ProcessEnv, name: string, def: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return def;
  const ms = parseDurationMs(raw);
  if (ms === null || ms <= 0)
    throw new UsageError(`${name}="${raw}" must be a duration such as 500ms, 30s or 1m`);
  return ms;
}

/**
 * TUN_AZURE_ENDPOINT, TUN_AZURE_ACCESS_TOKEN, and the tuning knobs
 * TUN_AZURE_POLL_INTERVAL, TUN_AZURE_RENEW_INTERVAL, TUN_AZURE_RETRY_BASE, TUN_AZURE_CALL_TIMEOUT
 * (durations; meant for tests and unusually slow or fast tenants).
 */
export function resolveArmSettings(env: NodeJS.ProcessEnv = process.env): ArmSettings {
  const rawEndpoint = env.TUN_AZURE_ENDPOINT?.trim() || DEFAULT_ARM_ENDPOINT;
  let url: URL;
  try {
    url = new URL(rawEndpoint);
  } catch {
    throw new UsageError(
      `TUN_AZURE_ENDPOINT="${rawEndpoint}" is not a URL; use e.g. ${DEFAULT_ARM_ENDPOINT}`,
    );
  }
  // The SDK never sends a bearer token over plain HTTP; say so up front instead of failing obscurely.
  if (url.protocol !== "https:") {
    throw new UsageError(
      `TUN_AZURE_ENDPOINT="${rawEndpoint}" must be an https:// URL (Azure tokens are only sent over TLS)`,
    );
  }
  const retryBaseMs = duration(env, "TUN_AZURE_RETRY_BASE", RETRY_BASE_MS);
  return Object.freeze({
    endpoint: rawEndpoint.replace(/\/+$/, ""),
    accessToken: env.TUN_AZURE_ACCESS_TOKEN?.trim() || null,
    timings: Object.freeze({
      renewIntervalMs: duration(env, "TUN_AZURE_RENEW_INTERVAL", RENEW_INTERVAL_MS),
      pollIntervalMs: duration(env, "TUN_AZURE_POLL_INTERVAL", LRO_POLL_INTERVAL_MS),
      retryBaseMs,
      retryMaxMs: Math.max(retryBaseMs, RETRY_MAX_MS * (retryBaseMs / RETRY_BASE_MS)),
      retryAttempts: RETRY_ATTEMPTS,
      callTimeoutMs: duration(env, "TUN_AZURE_CALL_TIMEOUT", ARM_CALL_TIMEOUT_MS),
    }),
  });
}
