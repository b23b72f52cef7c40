// JSON responses and the API's error shape: { error: { code, message } }.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ApiError, ErrorCode } from "../../protocol/wire.js";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, "bad_request", message);
export const notFound = (message: string): HttpError => new HttpError(404, "not_found", message);

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(data),
    "cache-control": "no-store",
  });
  res.end(data);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  const body: ApiError = { error: { code: err.code, message: err.message } };
  sendJson(res, err.status, body);
}

export function sendBody(
  res: ServerResponse,
  contentType: string,
  body: Buffer | string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(200, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(body);
}

export function clientIp(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? "?";
}
