// Errors the client library throws. Each names the sink URL it was talking to,
// so a failing test or CLI command says which sink and what went wrong.
import type { ErrorCode } from "../protocol/wire.js";

/** The sink could not be reached at all (refused, timed out, unknown host, reset …). */
export class SinkUnreachableError extends Error {
  readonly url: string;
  /** Short cause as shown to users, e.g. "connection refused". */
  readonly reason: string;
  constructor(url: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot reach the sink at ${url}: ${reason}`, options);
    this.name = "SinkUnreachableError";
    this.url = url;
    this.reason = reason;
  }
}

/** The sink answered with an error body (`{ error: { code, message } }`) or an unexpected status. */
export class SinkApiError extends Error {
  readonly code: ErrorCode | string;
  readonly status: number;
  constructor(code: ErrorCode | string, status: number, message: string) {
    super(message);
    this.name = "SinkApiError";
    this.code = code;
    this.status = status;
  }
}

/** `waitFor` gave up: no matching message arrived in time (the sink answered 408). */
export class SinkTimeoutError extends Error {
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number) {
    super(message);
    this.name = "SinkTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

const REASONS_BY_CODE: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "connection reset",
  ETIMEDOUT: "timed out",
  UND_ERR_CONNECT_TIMEOUT: "timed out",
  UND_ERR_HEADERS_TIMEOUT: "timed out",
  UND_ERR_BODY_TIMEOUT: "timed out",
  UND_ERR_SOCKET: "connection closed",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found (DNS lookup failed)",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EADDRNOTAVAIL: "address not available",
  ECONNABORTED: "connection aborted",
};

function errorCode(err: unknown): string | undefined {
  if (!err || typeof err !== "object") return undefined;
  const e = err as { code?: unknown; errors?: unknown[]; name?: unknown };
  if (typeof e.code === "string") return e.code;
  if (e.name === "TimeoutError") return "ETIMEDOUT";
  // Happy-eyeballs connects (localhost -> ::1 and 127.0.0.1) fail with an AggregateError.
  if (Array.isArray(e.errors)) return errorCode(e.errors[0]);
  return undefined;
}

/**
 * Turns a network-level failure (a socket error from node:http or ws, its code on the error or somewhere
 * down its `cause` chain) into a SinkUnreachableError; returns null for anything else.
 */
export function unreachableFrom(url: string, err: unknown): SinkUnreachableError | null {
  if (err instanceof SinkUnreachableError) return err;
  // The sink answered: that is reachable, whatever code its error body carries.
  if (err instanceof SinkApiError || err instanceof SinkTimeoutError) return null;
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 4; depth++) {
    const code = errorCode(cur);
    if (code) {
      const reason = REASONS_BY_CODE[code] ?? `${(cur as Error).message || code}`;
      return new SinkUnreachableError(url, reason, { cause: err });
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return null;
}
