// Which requests a local HTTP service (the sink, `tun up --ui`'s proxy) answers:
// pure decisions over the Host and Origin headers, with no Node imports, so
// every server that faces the developer's browser applies the same rules.
//
// Why: a page on any site can make the browser send requests (and WebSocket
// upgrades, which CORS does not cover) to 127.0.0.1. The Host check defeats DNS
// rebinding (the page's own name arrives as Host); the Origin check refuses
// cross-site requests that carry one. Clients that send no Origin (curl, the
// CLI, test suites) are not browsers acting for a page, and pass.

/**
 * Names always served, on any port: a port forward (`tun up`'s SSH local
 * forward to the VM sink, `ssh -L`) changes the port the client sees, and a
 * rebinding page can never make its Host a loopback literal, only its own name.
 */
export const LOOPBACK_HOST_NAMES = ["localhost", "127.0.0.1", "[::1]"] as const;

/** The default port of plain HTTP: a browser leaves it out of Host and Origin. */
const HTTP_DEFAULT_PORT = 80;
const HTTPS_DEFAULT_PORT = 443;

export interface OriginPolicy {
  /** Lower-case Host header values served, each `name:port` or a bare `name` (loopback names: any port). */
  readonly hosts: ReadonlySet<string>;
  /** Extra origins allowed cross-site (`--cors`), as `scheme://host[:port]`. */
  readonly corsOrigins: ReadonlySet<string>;
}

/** Headers as node:http gives them (lower-case names); only `host` and `origin` are read. */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

export type OriginVerdict = { ok: true } | { ok: false; message: string };

/** `::1` -> `[::1]`; names lower-cased. */
function hostForHeader(host: string): string {
  const h = host.toLowerCase();
  return h.includes(":") && !h.startsWith("[") ? `[${h}]` : h;
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]" || host === "";
}

/**
 * The Host values a listener at `listen` serves: the listen host with the
 * listening port, plus `extras` (localhost, 127.0.0.1 and [::1] are served on
 * any port, see isServedHost). An extra given as `name:port` is served with exactly that port; a
 * bare `name` with the listening port and without one (a proxy in front that
 * keeps the browser's Host on its default port, e.g. https://ui.example).
 */
export function allowedHosts(
  listen: { host: string; port: number },
  extras: readonly string[] = [],
): Set<string> {
  const hosts = new Set<string>();
  const add = (name: string, port: number): void => {
    hosts.add(`${name}:${port}`);
    if (port === HTTP_DEFAULT_PORT) hosts.add(name);
  };
  for (const name of LOOPBACK_HOST_NAMES) add(name, listen.port);
  if (!isWildcard(listen.host)) add(hostForHeader(listen.host), listen.port);
  for (const extra of extras) {
    const e = extra.trim().toLowerCase();
    if (!e) continue;
    if (/:\d+$/.test(e) && !/^[^[]*:[^\]]*:/.test(e)) {
      hosts.add(e);
    } else {
      const name = hostForHeader(e);
      hosts.add(name);
      hosts.add(`${name}:${listen.port}`);
    }
  }
  return hosts;
}

/** An origin as browsers serialise it, or null when `value` is not an http(s) origin. */
export function normalizeOrigin(value: string): string | null {
  const m = /^(https?):\/\/([^/?#\s]+)$/i.exec(value.trim().replace(/\/$/, ""));
  if (!m) return null;
  const scheme = m[1]!.toLowerCase();
  let hostPort = m[2]!.toLowerCase();
  if (hostPort.includes("@")) return null;
  const defaultPort = scheme === "https" ? HTTPS_DEFAULT_PORT : HTTP_DEFAULT_PORT;
  if (hostPort.endsWith(`:${defaultPort}`)) hostPort = hostPort.slice(0, -`:${defaultPort}`.length);
  return `${scheme}://${hostPort}`;
}

function single(headers: RequestHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A lower-case Host header value the policy serves. */
export function isServedHost(host: string, policy: OriginPolicy): boolean {
  if (policy.hosts.has(host)) return true;
  const name = host.replace(/:\d+$/, "");
  return (LOOPBACK_HOST_NAMES as readonly string[]).includes(name);
}

/** The request's Host must be one the listener serves (no Host at all is refused too). */
export function checkHost(headers: RequestHeaders, policy: OriginPolicy): OriginVerdict {
  const host = single(headers, "host")?.trim().toLowerCase();
  if (!host) return { ok: false, message: "the request has no Host header" };
  if (isServedHost(host, policy)) return { ok: true };
  return {
    ok: false,
    message: `this server does not answer to Host "${host}"; add it with --http-host if a proxy or name in front of it uses that name`,
  };
}

/**
 * No Origin: allowed. Otherwise the Origin must be the server's own (http or
 * https with the same host:port the request was sent to, which checkHost has
 * vetted) or one of the --cors origins. `Origin: null` (a sandboxed frame, a
 * file:// page) is foreign.
 */
export function checkOrigin(headers: RequestHeaders, policy: OriginPolicy): OriginVerdict {
  const raw = single(headers, "origin");
  if (raw === undefined) return { ok: true };
  const origin = normalizeOrigin(raw);
  const host = single(headers, "host")?.trim().toLowerCase();
  if (origin !== null) {
    if (policy.corsOrigins.has(origin)) return { ok: true };
    const ownHost = origin.slice(origin.indexOf("://") + 3);
    if (host && (ownHost === host || ownHost === host.replace(/:80$/, "")) && isServedHost(host, policy))
      return { ok: true };
  }
  return {
    ok: false,
    message: `requests from the web page at origin "${raw}" are refused; allow one with --cors ORIGIN`,
  };
}

/** The CORS origin to echo in Access-Control-Allow-Origin, or null (no CORS headers). */
export function corsOriginFor(headers: RequestHeaders, policy: OriginPolicy): string | null {
  const raw = single(headers, "origin");
  if (raw === undefined) return null;
  const origin = normalizeOrigin(raw);
  return origin !== null && policy.corsOrigins.has(origin) ? origin : null;
}
