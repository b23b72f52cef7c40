// VM-side cleanup of tunnel routes whose client vanished (SIGKILL, closed
// laptop). A route is removed as soon as its holder's heartbeat is stale: the
// upstream port alone cannot tell, because sshd keeps a dead client's forward
// bound while requests keep arriving on it. Otherwise a route is removed once its upstream port has refused connections
// for longer than the grace period. The first time a run sees a dead port it
// records `tun_dead_since` in the route's vars (in Caddy, so every janitor run
// and every machine sees the same mark); a later run past the grace removes
// it. Every write is compare-and-swap on the routes' ETag, so concurrent
// janitors and a client re-pointing its route after a reconnect never clobber
// each other: the loser re-reads and decides again.
import { connect } from "node:net";
import { CaddyConflictError, type CaddyAdmin, type CaddyRoute } from "./caddy-admin.js";
import { heartbeatAge, readHolder } from "./route.js";

export const DEFAULT_GRACE_MS = 60_000;
/** A port that neither accepts nor refuses within this time counts as alive (we only remove on certainty). */
const PROBE_TIMEOUT_MS = 2_000;
const CAS_ATTEMPTS = 8;
const DEAD_SINCE_KEY = "tun_dead_since";

/** "live" when something accepts on 127.0.0.1:port, "dead" when refused, "unknown" otherwise. */
export function probePort(port: number): Promise<"live" | "dead" | "unknown"> {
  return new Promise((resolve) => {
    if (!port) return resolve("dead");
    const sock = connect({ host: "127.0.0.1", port });
    sock.setTimeout(PROBE_TIMEOUT_MS, () => {
      sock.destroy();
      resolve("unknown");
    });
    sock.once("connect", () => {
      sock.destroy();
      resolve("live");
    });
    sock.once("error", (err: NodeJS.ErrnoException) =>
      resolve(err.code === "ECONNREFUSED" ? "dead" : "unknown"),
    );
  });
}

export interface JanitorOptions {
  admin: CaddyAdmin;
  server: string;
  graceMs: number;
  /** Heartbeat age (ms, Caddy's clock) past which a holder counts as gone. */
  staleMs: number;
  log: (line: string) => void;
  probe?: typeof probePort;
  now?: () => number;
}

export interface JanitorResult {
  removed: string[];
  marked: string[];
  live: string[];
}

function deadSince(route: CaddyRoute): number | null {
  const vars = route.handle?.find((h) => h.handler === "vars");
  const raw = vars?.[DEAD_SINCE_KEY];
  const t = typeof raw === "string" ? Date.parse(raw) : NaN;
  return Number.isNaN(t) ? null : t;
}

function withDeadSince(route: CaddyRoute, since: string | null): CaddyRoute {
  const copy = structuredClone(route);
  const vars = copy.handle?.find((h) => h.handler === "vars");
  if (vars) {
    if (since === null) delete vars[DEAD_SINCE_KEY];
    else vars[DEAD_SINCE_KEY] = since;
  }
  return copy;
}

export async function sweepRoutes(o: JanitorOptions): Promise<JanitorResult> {
  const probe = o.probe ?? probePort;
  const result: JanitorResult = { removed: [], marked: [], live: [] };
  const { routes } = await o.admin.getRoutes(o.server);
  const ids = (routes ?? []).filter((r) => readHolder(r)).map((r) => r["@id"]!);

  for (const id of ids) {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      // Re-read for every decision: the route may have been re-pointed or removed meanwhile.
      const { routes: fresh, etag, serverTime } = await o.admin.getRoutes(o.server);
      const now = o.now ?? (() => serverTime);
      const route = fresh?.find((r) => r["@id"] === id);
      const holder = readHolder(route);
      if (!route || !holder) break;
      const age = heartbeatAge(holder, now());
      // A stale heartbeat is certain death even while the port accepts (sshd keeps a dead
      // client's forward bound while requests keep arriving); a fresh one proves nothing
      // about the port, which is judged below as for routes without heartbeats.
      if (age !== null && age > o.staleMs) {
        try {
          await o.admin.deleteById(id, etag);
          o.log(
            `[janitor] removed ${id} (held by ${holder.holder} since ${holder.since}; last heartbeat ${Math.round(age / 1000)} s ago)`,
          );
          result.removed.push(id);
          break;
        } catch (err) {
          if (err instanceof CaddyConflictError) continue;
          throw err;
        }
      }
      const state = await probe(holder.upstreamPort);
      const marked = deadSince(route);
      try {
        if (state === "live") {
          if (marked !== null) await o.admin.replaceById(id, withDeadSince(route, null), etag);
          result.live.push(id);
        } else if (state === "dead" && marked === null) {
          await o.admin.replaceById(id, withDeadSince(route, new Date(now()).toISOString()), etag);
          o.log(
            `[janitor] ${id}: VM port ${holder.upstreamPort} refuses connections; removing after the grace period`,
          );
          result.marked.push(id);
        } else if (state === "dead" && now() - marked! >= o.graceMs) {
          await o.admin.deleteById(id, etag);
          const deadFor = Math.round((now() - marked!) / 1000);
          o.log(
            `[janitor] removed ${id} (held by ${holder.holder} since ${holder.since}; VM port ${holder.upstreamPort} dead for ${deadFor} s)`,
          );
          result.removed.push(id);
        } else if (state === "dead") {
          result.marked.push(id);
        }
        break;
      } catch (err) {
        if (err instanceof CaddyConflictError) continue;
        throw err;
      }
    }
  }
  return result;
}
