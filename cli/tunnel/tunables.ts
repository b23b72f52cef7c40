// Timing of the SSH link. Defaults detect a dead network within 30 s
// (keepalive 5 s x 3 misses, plus one interval of slack); the hidden
// TUN_* timing variables exist so tests can run the same code fast.

import { UsageError } from "../errors.js";

export interface LinkTunables {
  /** SSH keepalive interval, ms. */
  keepaliveIntervalMs: number;
  /** Unanswered keepalives before the link counts as dead. */
  keepaliveCountMax: number;
  /** Handshake deadline for one connection attempt, ms. */
  readyTimeoutMs: number;
  /** First reconnect delay, ms; doubles per failed try up to reconnectMaxMs. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Give up reconnecting (and tear down) after this long without a link, ms. */
  reconnectBudgetMs: number;
  /** How long the chain proof waits for Caddy to get a certificate for a new name, ms. */
  certWaitMs: number;
  /** How often a running tunnel checks that its Caddy route is still there, ms. */
  routeCheckMs: number;
  /** How often a running tunnel refreshes the heartbeat in its route's holder record, ms. */
  heartbeatMs: number;
  /** A holder whose heartbeat is older than this is gone: its name may be taken, ms. */
  heartbeatStaleMs: number;
}

const DEFAULT_KEEPALIVE_INTERVAL_MS = 5_000;
const DEFAULT_KEEPALIVE_COUNT_MAX = 3;
const DEFAULT_READY_TIMEOUT_MS = 15_000;
const DEFAULT_RECONNECT_MIN_MS = 1_000;
const DEFAULT_RECONNECT_MAX_MS = 15_000;
const DEFAULT_RECONNECT_BUDGET_MS = 10 * 60_000;
/** ACME issuance usually takes seconds; allow for a slow CA or DNS. */
const DEFAULT_CERT_WAIT_MS = 120_000;
const DEFAULT_ROUTE_CHECK_MS = 30_000;
/**
 * Names come back within 90 s of a client's death: a heartbeat at most
 * DEFAULT_HEARTBEAT_MS old when it died goes stale DEFAULT_HEARTBEAT_STALE_MS
 * later, and the janitor, every 20 s (systemd/tun-janitor.timer), removes it:
 * 60 + 20 + clock resolution, timer accuracy and run time < 90 s. A new
 * `tun up` of the name takes it over at 60 s. Each heartbeat is a Caddy config
 * load, and Caddy 2.6 closes proxied WebSocket connections on every load, so
 * beats are as rare as that bound allows: a missed beat is retried a third of
 * an interval later (the route check), well before the holder goes stale.
 */
export const DEFAULT_HEARTBEAT_MS = 30_000;
export const DEFAULT_HEARTBEAT_STALE_MS = 60_000;
/** Route checks (a read, no config load) per heartbeat interval, so a failed beat is retried soon. */
export const ROUTE_CHECKS_PER_HEARTBEAT = 3;

export function envInt(env: NodeJS.ProcessEnv, name: string, def: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`${name} must be a whole number of milliseconds, got "${raw}"`);
  return n;
}

export function linkTunables(env: NodeJS.ProcessEnv = process.env): LinkTunables {
  return Object.freeze({
    keepaliveIntervalMs: envInt(env, "TUN_SSH_KEEPALIVE_MS", DEFAULT_KEEPALIVE_INTERVAL_MS),
    keepaliveCountMax: envInt(env, "TUN_SSH_KEEPALIVE_COUNT", DEFAULT_KEEPALIVE_COUNT_MAX),
    readyTimeoutMs: envInt(env, "TUN_SSH_READY_TIMEOUT_MS", DEFAULT_READY_TIMEOUT_MS),
    reconnectMinMs: envInt(env, "TUN_RECONNECT_MIN_MS", DEFAULT_RECONNECT_MIN_MS),
    reconnectMaxMs: envInt(env, "TUN_RECONNECT_MAX_MS", DEFAULT_RECONNECT_MAX_MS),
    reconnectBudgetMs: envInt(env, "TUN_RECONNECT_BUDGET_MS", DEFAULT_RECONNECT_BUDGET_MS),
    certWaitMs: envInt(env, "TUN_CERT_WAIT_MS", DEFAULT_CERT_WAIT_MS),
    routeCheckMs: Math.max(1, envInt(env, "TUN_ROUTE_CHECK_MS", DEFAULT_ROUTE_CHECK_MS)),
    heartbeatMs: Math.max(1, envInt(env, "TUN_HEARTBEAT_MS", DEFAULT_HEARTBEAT_MS)),
    heartbeatStaleMs: Math.max(1, envInt(env, "TUN_HEARTBEAT_STALE_MS", DEFAULT_HEARTBEAT_STALE_MS)),
  });
}
