// The HTTP listener: checks every request (Host, Origin, connection cap)
// before routing, answers errors as JSON, and hands WebSocket upgrades on
// /api/v1/stream to the stream hub after the same checks.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import {
  allowedHosts,
  checkHost,
  checkOrigin,
  corsOriginFor,
  type OriginPolicy,
} from "../../protocol/http-origin.js";
import type { HostPort } from "../../protocol/values.js";
import { ULID_RE } from "../storage/store.js";
import { printable } from "../../protocol/printable.js";
import { checkParams } from "./query.js";
import { HttpError, RETRY_AFTER_S, forbidden, notFound, sendError, writeRawError } from "./respond.js";
import { ROUTES, type ApiContext } from "./routes.js";
import { ALWAYS_HEADERS } from "./security-headers.js";

/** How long a browser may cache a CORS preflight answer. */
const CORS_MAX_AGE_S = 600;
const CORS_METHODS = "GET, DELETE, PATCH";
import { serveUi } from "./ui.js";

export interface HttpListener {
  address: HostPort;
  /** Stops accepting and closes every open connection. */
  close(): Promise<void>;
}

export interface HttpSecurityOptions {
  /** --http-host: extra Host names served (see protocol/http-origin.ts). */
  extraHosts: readonly string[];
  /** --cors: origins allowed cross-site, which also get CORS headers. */
  corsOrigins: readonly string[];
  /** --max-http-connections: open HTTP connections beyond this get 503. */
  maxConnections: number;
}

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => void;

const MESSAGE_PATH_RE = /^\/api\/v1\/messages\/([^/]+)/;

async function dispatch(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  // A malformed id is a message that does not exist, not a missing endpoint.
  const idSegment = MESSAGE_PATH_RE.exec(url.pathname)?.[1];
  if (idSegment !== undefined && !ULID_RE.test(idSegment))
    throw notFound(`no message with id ${printable(idSegment)}`);
  let pathMatched = false;
  for (const route of ROUTES) {
    const m = route.pattern.exec(url.pathname);
    if (!m) continue;
    pathMatched = true;
    if (route.method !== req.method && !(route.method === "GET" && req.method === "HEAD")) continue;
    checkParams(route.params, url.searchParams);
    await route.handler(ctx, req, res, url, m.slice(1));
    return;
  }
  if (!pathMatched && (await serveUi(req, res, url))) return;
  if (pathMatched)
    throw new HttpError(405, "method_not_allowed", `${req.method} is not allowed on ${url.pathname}`);
  throw new HttpError(404, "not_found", `no such endpoint: ${req.method} ${url.pathname}`);
}

/** Host, then Origin: the refusal for a request a browser page must not make, or null. */
function refusal(req: IncomingMessage, policy: OriginPolicy): HttpError | null {
  const host = checkHost(req.headers, policy);
  if (!host.ok) return forbidden(host.message);
  const origin = checkOrigin(req.headers, policy);
  if (!origin.ok) return forbidden(origin.message);
  return null;
}

const overCapError = (what: string): HttpError =>
  new HttpError(503, "unavailable", `too many open ${what}; retry shortly`, {
    "retry-after": String(RETRY_AFTER_S),
  });

export async function startHttp(
  listen: HostPort,
  ctx: ApiContext,
  onUpgrade: UpgradeHandler,
  security: HttpSecurityOptions,
): Promise<HttpListener> {
  // Known once listening (port 0 picks the port); no request arrives before.
  let policy: OriginPolicy = { hosts: new Set(), corsOrigins: new Set() };
  let openConnections = 0;
  const overCap = new WeakSet<Socket>();

  const server = createServer((req, res) => {
    for (const [k, v] of Object.entries(ALWAYS_HEADERS)) res.setHeader(k, v);
    const fail = (err: unknown): void => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) return sendError(res, err);
      ctx.log.error(
        "http",
        `${req.method} ${printable(req.url ?? "")} failed: ${printable((err as Error)?.message ?? String(err))}`,
      );
      sendError(res, new HttpError(500, "internal", "the sink could not answer this request; see its log"));
    };
    if (overCap.has(req.socket)) {
      res.shouldKeepAlive = false;
      return fail(overCapError("HTTP connections"));
    }
    const refused = refusal(req, policy);
    if (refused) return fail(refused);
    const cors = corsOriginFor(req.headers, policy);
    if (cors) {
      res.setHeader("access-control-allow-origin", cors);
      res.setHeader("vary", "Origin");
      if (req.method === "OPTIONS") {
        res.writeHead(204, {
          "access-control-allow-methods": CORS_METHODS,
          "access-control-allow-headers": "content-type",
          "access-control-max-age": String(CORS_MAX_AGE_S),
        });
        res.end();
        return;
      }
    }
    dispatch(ctx, req, res, new URL(req.url ?? "/", "http://sink.invalid")).catch(fail);
  });
  server.on("connection", (socket: Socket) => {
    openConnections++;
    if (openConnections > security.maxConnections) overCap.add(socket);
    socket.once("close", () => openConnections--);
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (overCap.has(req.socket)) return writeRawError(socket, overCapError("HTTP connections"));
    // refused before the handshake: a foreign page never gets a WebSocket
    const refused = refusal(req, policy);
    if (refused) return writeRawError(socket, refused);
    onUpgrade(req, socket, head, new URL(req.url ?? "/", "http://sink.invalid"));
  });
  server.on("clientError", (err: Error & { code?: string }, socket: Duplex) => {
    // node:http could not parse the request (raw non-ASCII bytes in the target, a broken header…)
    const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
    const message = tooLarge
      ? "the request headers are too large"
      : err.code === "HPE_INVALID_URL"
        ? "the request target is not valid: percent-encode non-ASCII characters in the path and query"
        : `the request could not be parsed (${err.code ?? "malformed"})`;
    writeRawError(socket, new HttpError(tooLarge ? 431 : 400, "bad_request", message));
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new Error(`could not listen for HTTP on ${listen.host}:${listen.port}: ${err.message}`));
    server.once("error", onError);
    server.listen(listen.port, listen.host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const addr = server.address();
  const address = typeof addr === "object" && addr ? { host: addr.address, port: addr.port } : listen;
  policy = {
    hosts: allowedHosts({ host: listen.host, port: address.port }, security.extraHosts),
    corsOrigins: new Set(security.corsOrigins),
  };
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
