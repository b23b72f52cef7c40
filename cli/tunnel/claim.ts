// Claiming and releasing a tunnel name in Caddy. Every write is a
// compare-and-swap on the server's routes (If-Match with the ETag read just
// before), so two tunnels racing for one name, or a tunnel re-pointing its
// route while the janitor removes it, cannot both win.
import { UserError } from "../errors.js";
import { CaddyConflictError, type CaddyAdmin, type CaddyRoute } from "./caddy-admin.js";
import {
  buildRoute,
  heartbeatAge,
  readHolder,
  routeId,
  withHeartbeat,
  type RouteGuard,
  type RouteHolder,
} from "./route.js";

/** Attempts before giving up when the config keeps changing under us. */
const CAS_ATTEMPTS = 8;

export class NameTakenError extends UserError {}

export interface ClaimRequest {
  admin: CaddyAdmin;
  server: string;
  name: string;
  domain: string;
  holder: RouteHolder;
  guard: RouteGuard;
  /** A holder whose heartbeat is older than this (ms, by Caddy's clock) is gone: anyone may take its name. */
  staleMs: number;
  /** True when something accepts connections on that VM port (the other tunnel is alive). */
  upstreamLive: (port: number) => Promise<boolean>;
  /**
   * Whether a route of the same holder from another session (other `since`)
   * may be taken over: yes when starting (a new terminal, a laptop that woke
   * up), no for a running session re-claiming after a reconnect, which would
   * otherwise steal the name back from the newer session.
   */
  takeOverOwn: boolean;
}

export interface ClaimResult {
  /** The previous holder when we replaced a route (ours from an earlier session, or a dead one). */
  replaced: RouteHolder | null;
  /** The heartbeat written with the route (Caddy's clock, ISO). */
  heartbeat: string;
  /** When the replaced holder's heartbeat was stale: its age, ms. */
  staleForMs: number | null;
}

const seconds = (ms: number): number => Math.round(ms / 1000);

function find(routes: CaddyRoute[] | null, id: string): CaddyRoute | undefined {
  return routes?.find((r) => r["@id"] === id);
}

export async function claimRoute(req: ClaimRequest): Promise<ClaimResult> {
  const id = routeId(req.name);
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const { routes, etag, serverTime } = await req.admin.getRoutes(req.server);
    const heartbeat = new Date(serverTime).toISOString();
    const route = buildRoute(req.name, req.domain, { ...req.holder, heartbeat }, req.guard);
    const existing = find(routes, id);
    try {
      if (!existing) {
        await req.admin.addRoute(req.server, route, routes !== null, etag);
        return { replaced: null, heartbeat, staleForMs: null };
      }
      const current = readHolder(existing);
      if (!current) {
        throw new UserError(
          `Caddy server "${req.server}" already has an object with @id "${id}" that tun did not create; remove it or pick another name`,
        );
      }
      const sameHolder = current.holder === req.holder.holder;
      const age = heartbeatAge(current, serverTime);
      const stale = age !== null && age > req.staleMs;
      if (sameHolder && current.since !== req.holder.since && !req.takeOverOwn && !stale) {
        throw new NameTakenError(
          `the name "${req.name}" was taken over by another tun session of ${current.holder} (since ${current.since})`,
        );
      }
      // A live VM port means a live tunnel unless its heartbeat is stale (sshd keeps a dead
      // client's forward bound while requests arrive); a refused port means it is gone.
      if (!sameHolder && !stale && (await req.upstreamLive(current.upstreamPort))) {
        const beat =
          age === null
            ? ""
            : `, heartbeat ${seconds(age)} s ago; free once it is ${seconds(req.staleMs)} s old`;
        throw new NameTakenError(
          `the name "${req.name}" is in use by ${current.holder} since ${current.since} (a live tunnel${beat}); pick another name`,
        );
      }
      await req.admin.replaceById(id, route, etag);
      return { replaced: current, heartbeat, staleForMs: stale ? age : null };
    } catch (err) {
      if (err instanceof CaddyConflictError) continue;
      throw err;
    }
  }
  throw new Error(`Caddy's config kept changing while claiming "${req.name}"; try again`);
}

/** Removes the route if it is still ours (same holder and since); idempotent. Returns whether it removed it. */
export async function releaseRoute(
  admin: CaddyAdmin,
  server: string,
  name: string,
  ours: RouteHolder,
): Promise<boolean> {
  const id = routeId(name);
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const { routes, etag } = await admin.getRoutes(server);
    const current = readHolder(find(routes, id));
    if (!current || current.holder !== ours.holder || current.since !== ours.since) return false;
    try {
      await admin.deleteById(id, etag);
      return true;
    } catch (err) {
      if (err instanceof CaddyConflictError) continue;
      throw err;
    }
  }
  throw new Error(`Caddy's config kept changing while removing the route for "${name}"`);
}

/** What a running session finds when it looks at one of its routes. */
export type RouteState =
  | { state: "ours" }
  /** Gone (a Caddy reload, removed by hand or by the janitor) or pointing elsewhere: claim it again. */
  | { state: "missing" }
  | { state: "taken"; by: RouteHolder };

export interface HeldRoute {
  name: string;
  holder: RouteHolder;
}

/**
 * Checks a session's routes in one read and, when `beat` is set, refreshes the
 * heartbeat of those still ours in one write (one Caddy config load for all of
 * them). Returns each route's state and the heartbeat written, if any.
 */
export async function checkRoutes(
  admin: CaddyAdmin,
  server: string,
  held: readonly HeldRoute[],
  beat: boolean,
): Promise<{ states: Map<string, RouteState>; heartbeat: string | null }> {
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const { routes, etag, serverTime } = await admin.getRoutes(server);
    const states = new Map<string, RouteState>();
    const heartbeat = new Date(serverTime).toISOString();
    const next = [...(routes ?? [])];
    let changed = false;
    for (const { name, holder } of held) {
      const index = next.findIndex((r) => r["@id"] === routeId(name));
      const current = index < 0 ? null : readHolder(next[index]);
      if (!current || (current.holder === holder.holder && current.since === holder.since)) {
        if (!current || current.upstreamPort !== holder.upstreamPort) {
          states.set(name, { state: "missing" });
          continue;
        }
        states.set(name, { state: "ours" });
        if (beat) {
          next[index] = withHeartbeat(next[index]!, heartbeat);
          changed = true;
        }
      } else {
        states.set(name, { state: "taken", by: current });
      }
    }
    if (!changed) return { states, heartbeat: null };
    try {
      await admin.replaceRoutes(server, next, etag);
      return { states, heartbeat };
    } catch (err) {
      if (err instanceof CaddyConflictError) continue;
      throw err;
    }
  }
  throw new Error("Caddy's config kept changing while refreshing the tunnel heartbeat");
}
