// One delivery attempt: POST the payload with Node's built-in fetch (undici).
// fetch is used here, not node:http as in the client library, because the
// multipart bodies come from the built-in FormData/Response encoder and fetch
// gives timeouts and redirect control in one call. Redirects are not
// followed: the app's answer is the answer, and no 3xx can send a message on.
import type { Payload } from "./payload.js";

/** Bytes of the answer kept for `tun mail deliver` to show; the rest is read and dropped. */
export const ANSWER_HEAD_BYTES = 2048;
const USER_AGENT = "tun-deliver";

export interface AttemptResult {
  /** The HTTP status, or null when no answer came (refused, timed out, reset). */
  status: number | null;
  /** Time to the answer's status line, or to the failure, in ms. */
  ms: number;
  /** Why no answer came, in a few words ("connection refused", "timed out after 30 s"). */
  error: string | null;
  /** The start of the answer's body. */
  head: Buffer;
}

export async function attemptDelivery(
  url: URL,
  payload: Payload,
  messageId: string,
  o: { timeoutMs: number; signal?: AbortSignal },
): Promise<AttemptResult> {
  const { timeoutMs } = o;
  const started = performance.now();
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, {
      method: "POST",
      redirect: "manual",
      signal: o.signal ? AbortSignal.any([o.signal, timeout]) : timeout,
      headers: {
        "User-Agent": USER_AGENT,
        ...payload.headers,
        "Content-Type": payload.contentType,
        "X-Tun-Message-Id": messageId,
      },
      body: payload.body,
    });
    const ms = Math.round(performance.now() - started);
    const head = await readHead(res).catch(() => Buffer.alloc(0));
    return { status: res.status, ms, error: null, head };
  } catch (err) {
    const ms = Math.round(performance.now() - started);
    const why = timeout.aborted ? `timed out after ${formatMs(timeoutMs)}` : describeFailure(err);
    return { status: null, ms, error: why, head: Buffer.alloc(0) };
  }
}

async function readHead(res: Response): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let kept = 0;
  for await (const chunk of res.body) {
    if (kept < ANSWER_HEAD_BYTES) {
      const buf = Buffer.from(chunk as Uint8Array);
      chunks.push(buf.subarray(0, ANSWER_HEAD_BYTES - kept));
      kept += buf.length;
    }
  }
  return Buffer.concat(chunks);
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found (DNS)",
  UND_ERR_SOCKET: "connection closed before an answer",
};

function describeFailure(err: unknown): string {
  let e: unknown = err;
  // fetch wraps the socket error: TypeError("fetch failed", { cause }), sometimes an AggregateError inside.
  for (let depth = 0; depth < 4 && e instanceof Error; depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code && NETWORK_ERRORS[code]) return NETWORK_ERRORS[code]!;
    if (e instanceof AggregateError && e.errors.length) e = e.errors[0];
    else if (e.cause !== undefined) e = e.cause;
    else return e.message;
  }
  return err instanceof Error ? err.message : String(err);
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 120) return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
  const m = s / 60;
  return `${Number.isInteger(m) ? m : m.toFixed(1)} min`;
}
