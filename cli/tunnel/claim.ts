// Claiming and releasing a tunnel name in Caddy. Every write is a
// compare-and-swap on the server's routes (If-Match with the ETag read just
// before), so two tunnels racing for one name, or a tunnel re-pointing its
// route while the janitor removes it, cannot both win.
import { UserError } from "../errors.js";
import { CaddyConflictError, type CaddyAdmin, type CaddyRoute } from "./caddy-admin.js";
import { buildRoute, readHolder, routeId, type RouteHolder } from "./route.js";

/** Attempts before giving up when the config keeps changing under us. */
const CAS_ATTEMPTS = 8;

export class NameTakenError extends UserError {}

export interface ClaimRequest {
  admin: CaddyAdmin;
  server: string;
  name: string;
  domain: string;
  holder: RouteHolder;
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
}

function find(routes: CaddyRoute[] | null, id: string): CaddyRoute | undefined {
  return routes?.find((r) => r["@id"] === id);
}

export async function claimRoute(req: ClaimRequest): Promise<ClaimResult> {
  const id = routeId(req.name);
  const route = buildRoute(req.name, req.domain, req.holder);
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const { routes, etag } = await req.admin.getRoutes(req.server);
    const existing = find(routes, id);
    try {
      if (!existing) {
        await req.admin.addRoute(req.server, route, routes !== null, etag);
        return { replaced: null };
      }
      const current = readHolder(existing);
      if (!current) {
        throw new UserError(
          `Caddy server "${req.server}" already has an object with @id "${id}" that tun did not create; remove it or pick another name`,
        );
      }
      const sameHolder = current.holder === req.holder.holder;
      if (sameHolder && current.since !== req.holder.since && !req.takeOverOwn) {
        throw new NameTakenError(
          `the name "${req.name}" was taken over by another tun session of ${current.holder} (since ${current.since})`,
        );
      }
      if (!sameHolder && (await req.upstreamLive(current.upstreamPort))) {
        throw new NameTakenError(
          `the name "${req.name}" is in use by ${current.holder} since ${current.since} (a live tunnel); pick another name`,
        );
      }
      await req.admin.replaceById(id, route, etag);
      return { replaced: current };
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
