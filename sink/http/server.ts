// The HTTP listener: routes API requests, answers errors as JSON, and hands
// WebSocket upgrades on /api/v1/stream to the stream hub.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { HostPort } from "../../protocol/values.js";
import { HttpError, sendError } from "./respond.js";
import { ROUTES, type ApiContext } from "./routes.js";
import { serveUi } from "./ui.js";

export interface HttpListener {
  address: HostPort;
  /** Stops accepting and closes every open connection. */
  close(): Promise<void>;
}

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => void;

async function dispatch(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://sink.invalid");
  let pathMatched = false;
  for (const route of ROUTES) {
    const m = route.pattern.exec(url.pathname);
    if (!m) continue;
    pathMatched = true;
    if (route.method !== req.method && !(route.method === "GET" && req.method === "HEAD")) continue;
    await route.handler(ctx, req, res, url, m.slice(1));
    return;
  }
  if (!pathMatched && (await serveUi(req, res, url))) return;
  if (pathMatched)
    throw new HttpError(405, "method_not_allowed", `${req.method} is not allowed on ${url.pathname}`);
  throw new HttpError(404, "not_found", `no such endpoint: ${req.method} ${url.pathname}`);
}

export async function startHttp(
  listen: HostPort,
  ctx: ApiContext,
  onUpgrade: UpgradeHandler,
): Promise<HttpListener> {
  const server = createServer((req, res) => {
    dispatch(ctx, req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) return sendError(res, err);
      ctx.log.error("http", `${req.method} ${req.url} failed: ${(err as Error)?.message ?? String(err)}`);
      sendError(res, new HttpError(500, "internal", "the sink could not answer this request; see its log"));
    });
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://sink.invalid");
    onUpgrade(req, socket, head, url);
  });
  server.on("clientError", (_err, socket: Duplex) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
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
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
