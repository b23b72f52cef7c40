// A small client for Caddy's admin API (https://caddyserver.com/docs/api).
// The tunnel reaches it through a local forward over SSH; the janitor on the
// VM talks to it directly. Requests carry the configured admin address as
// Host, because Caddy refuses other Host values (DNS-rebinding protection)
// and the local forward's port differs from the VM's.
import { request } from "node:http";
import type { HostPort } from "../../protocol/values.js";

const ADMIN_TIMEOUT_MS = 10_000;
/**
 * Caddy restarts its admin listener on every config load, so a request that
 * overlaps another client's change can be hung up on. Such transport errors
 * are retried; writes are guarded by If-Match, so a retried write that had in
 * fact been applied fails with 412 and the caller re-reads.
 */
const ADMIN_TRANSPORT_RETRIES = 4;
const ADMIN_RETRY_DELAY_MS = 100;

export class CaddyAdminError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = "CaddyAdminError";
  }
}

/** The config changed between our read and our write (If-Match failed): read again and retry. */
export class CaddyConflictError extends CaddyAdminError {
  constructor() {
    super("Caddy's config changed concurrently", 412);
    this.name = "CaddyConflictError";
  }
}

class TransportError extends Error {}

interface AdminReply {
  status: number;
  text: string;
  etag: string | null;
  /** Caddy's clock (its Date header, 1 s resolution): heartbeats are written and judged by it, so client clocks may be skewed. */
  serverTime: number;
}

export interface CaddyRoute {
  "@id"?: string;
  match?: Array<{ host?: string[] }>;
  handle?: Array<Record<string, unknown>>;
  terminal?: boolean;
}

export interface CaddyServer {
  listen?: string[];
  routes?: CaddyRoute[];
  tls_connection_policies?: unknown[];
  automatic_https?: { disable?: boolean };
}

export interface CaddyHttpApp {
  http_port?: number;
  https_port?: number;
  servers?: Record<string, CaddyServer>;
}

export class CaddyAdmin {
  constructor(
    /** Where to connect (a local forward, or the admin address itself on the VM). */
    private readonly connectTo: () => HostPort,
    /** The admin address as Caddy knows it, e.g. "127.0.0.1:2019". */
    private readonly adminAddress: string,
    /** Explains a transport failure (e.g. the SSH channel open error). */
    private readonly explain: () => string | null = () => null,
  ) {}

  private async call(method: string, path: string, body?: unknown, ifMatch?: string): Promise<AdminReply> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.callOnce(method, path, body, ifMatch);
      } catch (err) {
        if (!(err instanceof TransportError) || attempt >= ADMIN_TRANSPORT_RETRIES) {
          const why = this.explain() ?? (err as Error).message;
          throw new CaddyAdminError(
            `cannot reach Caddy's admin API at ${this.adminAddress} on the VM: ${why}`,
            null,
          );
        }
        await new Promise((r) => setTimeout(r, ADMIN_RETRY_DELAY_MS * (attempt + 1)));
      }
    }
  }

  private callOnce(method: string, path: string, body?: unknown, ifMatch?: string): Promise<AdminReply> {
    const { host, port } = this.connectTo();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host,
          port,
          method,
          path,
          headers: {
            host: this.adminAddress,
            ...(ifMatch ? { "if-match": ifMatch } : {}),
            ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}),
          },
          timeout: ADMIN_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            // Caddy sends the ETag as an HTTP trailer on chunked replies.
            const etag = res.trailers.etag ?? (res.headers.etag as string | undefined) ?? null;
            const date = Date.parse(res.headers.date ?? "");
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString(),
              etag,
              serverTime: Number.isNaN(date) ? Date.now() : date,
            });
          });
          res.on("error", (err) => reject(new TransportError(err.message)));
        },
      );
      const timeout = new Error(`timed out after ${ADMIN_TIMEOUT_MS} ms`);
      req.on("timeout", () => req.destroy(timeout));
      // A timeout is not retried: the far end is stuck, not restarting.
      req.on("error", (err) => reject(err === timeout ? err : new TransportError(err.message)));
      req.end(payload);
    });
  }

  private async json<T>(method: string, path: string, body?: unknown, ifMatch?: string): Promise<T | null> {
    const { status, text } = await this.call(method, path, body, ifMatch);
    if (status === 404) return null;
    if (status === 412) throw new CaddyConflictError();
    if (status >= 400) {
      let msg = text.trim();
      try {
        msg = (JSON.parse(text) as { error?: string }).error ?? msg;
      } catch {
        // not JSON: keep the text
      }
      throw new CaddyAdminError(`Caddy admin ${method} ${path} failed (HTTP ${status}): ${msg}`, status);
    }
    return text.trim() ? (JSON.parse(text) as T) : null;
  }

  getHttpApp(): Promise<CaddyHttpApp | null> {
    return this.json<CaddyHttpApp>("GET", "/config/apps/http");
  }

  /**
   * The server's routes and the ETag that guards them (null routes: the key is
   * absent). Every change below passes that ETag as If-Match, so two clients
   * (or a client and the janitor) never overwrite each other's decision.
   */
  async getRoutes(
    server: string,
  ): Promise<{ routes: CaddyRoute[] | null; etag: string | null; serverTime: number }> {
    const { status, text, etag, serverTime } = await this.call("GET", routesPath(server));
    if (status >= 400 && status !== 404) {
      throw new CaddyAdminError(
        `Caddy admin GET ${routesPath(server)} failed (HTTP ${status}): ${text.trim()}`,
        status,
      );
    }
    const parsed: unknown = status === 404 || !text.trim() ? null : JSON.parse(text);
    return { routes: Array.isArray(parsed) ? (parsed as CaddyRoute[]) : null, etag, serverTime };
  }

  /** Appends a route; creates the routes list when the server has none (PUT fails if it appeared meanwhile). */
  async addRoute(
    server: string,
    route: CaddyRoute,
    haveRoutes: boolean,
    ifMatch: string | null,
  ): Promise<void> {
    if (!haveRoutes) {
      try {
        await this.json("PUT", routesPath(server), [route]);
      } catch (err) {
        if (err instanceof CaddyAdminError && /already exists/.test(err.message))
          throw new CaddyConflictError();
        throw err;
      }
      return;
    }
    await this.json("POST", routesPath(server), route, ifMatch ?? undefined);
  }

  /** Replaces the object with this @id in place. */
  async replaceById(id: string, value: unknown, ifMatch: string | null): Promise<void> {
    await this.json("PATCH", `/id/${encodeURIComponent(id)}`, value, ifMatch ?? undefined);
  }

  /** Replaces the server's whole route list (one config load for several changes). */
  async replaceRoutes(server: string, routes: CaddyRoute[], ifMatch: string | null): Promise<void> {
    await this.json("PATCH", routesPath(server), routes, ifMatch ?? undefined);
  }

  /** Idempotent: an absent id counts as deleted. */
  async deleteById(id: string, ifMatch: string | null): Promise<void> {
    await this.json("DELETE", `/id/${encodeURIComponent(id)}`, undefined, ifMatch ?? undefined);
  }
}

function serverPath(server: string): string {
  return `/config/apps/http/servers/${encodeURIComponent(server)}`;
}

function routesPath(server: string): string {
  return `${serverPath(server)}/routes`;
}
