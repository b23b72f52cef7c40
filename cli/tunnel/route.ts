// The shape of a tunnel's Caddy route and who holds it. The holder is stored
// in a `vars` handler inside the route itself: Caddy keeps it with the config
// (it survives Caddy reloads and is visible in GET /config), it does nothing to
// requests but set variables, and every client and the janitor read the same
// record without a side file on the VM. The route's @id (`tun-<name>`) makes
// creation atomic: Caddy refuses a second object with the same @id.
import { hostname, userInfo } from "node:os";
import type { CaddyRoute, CaddyServer } from "./caddy-admin.js";

export { isDnsLabel } from "../config/tunnels.js";

export const ROUTE_ID_PREFIX = "tun-";

export interface RouteHolder {
  /** Who runs the tunnel: local user@host (TUN_HOLDER overrides, e.g. for shared machines). */
  holder: string;
  /** ISO time the holder created or took over the route. */
  since: string;
  /** VM-loopback port the route proxies to (the SSH remote forward). */
  upstreamPort: number;
  /**
   * ISO time (Caddy's clock, from its Date header) the holder last said it is
   * alive; null for routes written by a tun without heartbeats.
   */
  heartbeat?: string | null;
}

/** What the route asks of requests besides routing them (see basic-auth.ts). */
export interface RouteGuard {
  /** Caddy `http_basic` account: user name and bcrypt hash (never the password). */
  basicAuth: { username: string; hash: string } | null;
}

const HEARTBEAT_KEY = "tun_heartbeat";

export function routeId(name: string): string {
  return ROUTE_ID_PREFIX + name;
}

export function localHolder(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TUN_HOLDER) return env.TUN_HOLDER;
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    user = env.USER ?? user;
  }
  return `${user}@${hostname()}`;
}

export function buildRoute(
  name: string,
  domain: string,
  h: RouteHolder,
  guard: RouteGuard = { basicAuth: null },
): CaddyRoute {
  const vars: Record<string, unknown> = {
    handler: "vars",
    tun_holder: h.holder,
    tun_since: h.since,
    tun_upstream: String(h.upstreamPort),
  };
  if (h.heartbeat) vars[HEARTBEAT_KEY] = h.heartbeat;
  const auth = guard.basicAuth
    ? [
        {
          handler: "authentication",
          providers: {
            http_basic: {
              // Caddy 2.6 accepts the bcrypt string as is (it also takes it base64-encoded; later versions only as is).
              accounts: [{ username: guard.basicAuth.username, password: guard.basicAuth.hash }],
              hash: { algorithm: "bcrypt" },
              realm: `${name}.${domain}`,
            },
          },
        },
      ]
    : [];
  return {
    "@id": routeId(name),
    match: [{ host: [`${name}.${domain}`] }],
    handle: [
      vars,
      ...auth,
      { handler: "reverse_proxy", upstreams: [{ dial: `127.0.0.1:${h.upstreamPort}` }] },
    ],
    terminal: true,
  };
}

/** A copy of a tun route with its heartbeat set to `at` (ISO); everything else as it was. */
export function withHeartbeat(route: CaddyRoute, at: string): CaddyRoute {
  const copy = structuredClone(route);
  const vars = copy.handle?.find((h) => h.handler === "vars");
  if (vars) vars[HEARTBEAT_KEY] = at;
  return copy;
}

/** Milliseconds since the holder's last heartbeat, by Caddy's clock `now`; null when the route has none. */
export function heartbeatAge(h: RouteHolder, now: number): number | null {
  const t = h.heartbeat ? Date.parse(h.heartbeat) : NaN;
  return Number.isNaN(t) ? null : now - t;
}

/** The holder record of a tunnel route; null for routes tun did not create. */
export function readHolder(route: CaddyRoute | null | undefined): RouteHolder | null {
  if (!route?.["@id"]?.startsWith(ROUTE_ID_PREFIX)) return null;
  const vars = route.handle?.find((h) => h.handler === "vars");
  if (!vars || typeof vars.tun_holder !== "string") return null;
  let upstreamPort = Number(vars.tun_upstream);
  if (!Number.isInteger(upstreamPort) || upstreamPort <= 0) {
    // Fall back to the reverse_proxy dial if the vars were edited by hand.
    const proxy = route.handle?.find((h) => h.handler === "reverse_proxy") as
      { upstreams?: Array<{ dial?: string }> } | undefined;
    upstreamPort = Number(proxy?.upstreams?.[0]?.dial?.split(":").pop());
  }
  return {
    holder: vars.tun_holder,
    since: typeof vars.tun_since === "string" ? vars.tun_since : "an unknown time",
    upstreamPort: Number.isInteger(upstreamPort) ? upstreamPort : 0,
    ...(typeof vars[HEARTBEAT_KEY] === "string" ? { heartbeat: vars[HEARTBEAT_KEY] } : {}),
  };
}

/**
 * A Caddy listen address ("tcp/:443", ":80", "127.0.0.1:8080", "[::1]:80-81")
 * as something to dial from the VM itself; wildcard hosts become loopback.
 */
export function dialableListen(listen: string): { host: string; port: number } | null {
  const addr = listen.replace(/^[a-z0-9]+\//i, "");
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)(?:-\d+)?$/.exec(addr);
  if (!m) return null;
  const host = m[1] ?? m[2] ?? "";
  const port = Number(m[3]);
  const wildcard = host === "" || host === "0.0.0.0" || host === "::";
  return { host: wildcard ? "127.0.0.1" : host, port };
}

/** Caddy's default plain-HTTP port (apps.http.http_port). */
const CADDY_DEFAULT_HTTP_PORT = 80;

export interface ProbeListener {
  host: string;
  port: number;
  /** As written in Caddy's config, for messages. */
  text: string;
  tls: boolean;
}

/**
 * Where to send the chain probe on the VM, and whether that listener speaks
 * TLS. Caddy's automatic HTTPS serves TLS on every listener of a server except
 * the HTTP port (unless disabled); explicit TLS connection policies force it.
 * A TLS listener is preferred: on the HTTP port automatic HTTPS may answer with
 * a redirect instead of the route.
 */
export function chooseProbeListener(
  server: CaddyServer,
  httpPort = CADDY_DEFAULT_HTTP_PORT,
): ProbeListener | null {
  const autoHttps = !server.automatic_https?.disable;
  const forcedTls = (server.tls_connection_policies?.length ?? 0) > 0;
  const candidates: ProbeListener[] = [];
  for (const text of server.listen ?? []) {
    const dial = dialableListen(text);
    if (!dial) continue;
    candidates.push({ ...dial, text, tls: forcedTls || (autoHttps && dial.port !== httpPort) });
  }
  return candidates.find((c) => c.tls) ?? candidates[0] ?? null;
}
