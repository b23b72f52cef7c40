// JSON responses and the API's error shape: { error: { code, message } }, and
// the security headers every response carries (see security-headers.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { ApiError, ErrorCode } from "../../protocol/wire.js";
import { ALWAYS_HEADERS, JSON_CSP, MAIL_CONTENT_CSP } from "./security-headers.js";

/** Seconds a client is told to wait (Retry-After) when a cap is reached. */
export const RETRY_AFTER_S = 1;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers, e.g. Retry-After on a 503. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, "bad_request", message);
export const notFound = (message: string): HttpError => new HttpError(404, "not_found", message);
export const forbidden = (message: string): HttpError => new HttpError(403, "forbidden", message);

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    ...ALWAYS_HEADERS,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(data),
    "cache-control": "no-store",
    "content-security-policy": JSON_CSP,
    ...headers,
  });
  res.end(data);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  const body: ApiError = { error: { code: err.code, message: err.message } };
  sendJson(res, err.status, body, err.headers);
}

/** Mail-derived bytes: sandboxed by default; callers pass their own CSP (/html) or disposition. */
export function sendBody(
  res: ServerResponse,
  contentType: string,
  body: Buffer | string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(200, {
    ...ALWAYS_HEADERS,
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "content-security-policy": MAIL_CONTENT_CSP,
    ...headers,
  });
  res.end(body);
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};

/**
 * The JSON error written straight to a socket, for the places node:http gives
 * no ServerResponse: a refused WebSocket upgrade and a request it could not parse.
 */
export function writeRawError(socket: Duplex, err: HttpError): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code: err.code, message: err.message } } satisfies ApiError);
  const headers: Record<string, string | number> = {
    ...ALWAYS_HEADERS,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "content-security-policy": JSON_CSP,
    connection: "close",
    ...err.headers,
  };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  socket.end(
    `HTTP/1.1 ${err.status} ${REASONS[err.status] ?? "Error"}\r\n${lines.join("\r\n")}\r\n\r\n${body}`,
  );
}

export function clientIp(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? "?";
}
