// The live message stream behind SinkClient.stream(): one WebSocket at a time,
// reconnected with backoff after drops, resuming with since=<newest id yielded>
// so the caller sees every matching message exactly once across outages.
import type WebSocket from "ws";
import type { RawData } from "ws";
import {
  API_PREFIX,
  PROTOCOL_VERSION,
  WS_CLOSE_TRY_AGAIN_LATER,
  type Message,
  type StreamFrame,
} from "../protocol/wire.js";
import { SinkApiError, unreachableFrom } from "./errors.js";

export interface StreamOptions {
  /** Address or `@domain` pattern(s); only matching messages are streamed. Default: all. */
  to?: string | string[];
  /** Start after this message id (replays what is stored after it). Default: only new messages. */
  since?: string;
  /** Aborting ends the iteration normally (no error). */
  signal?: AbortSignal;
  /** Called when the first connection is established (the sink's hello arrived). */
  onConnected?: (info: { lastId: string | null }) => void;
  /** Called once per outage, when an established connection is lost (not once per retry). */
  onReconnecting?: (err: Error) => void;
  /** Called when the stream is flowing again after an outage. */
  onReconnected?: () => void;
}

const RECONNECT_INITIAL_DELAY_MS = 100;
const RECONNECT_MAX_DELAY_MS = 5_000;
const CONNECT_TIMEOUT_MS = 10_000;
/** We ping the sink this often and give up on the socket when the previous ping got no pong. */
const PING_INTERVAL_MS = 15_000;
/** Frame bytes buffered for a slow consumer before we stop reading the socket (the sink then sheds us with 1013). */
const QUEUE_PAUSE_BYTES = 4 * 1024 * 1024;
/** Reading resumes once the consumer has brought the buffer below this. */
const QUEUE_RESUME_BYTES = 512 * 1024;
/** How many recent ids are remembered to drop duplicates the sink might replay. */
const SEEN_IDS_KEPT = 10_000;
/** Sorts before every ULID: "since" this means "everything stored". */
const BEFORE_FIRST_ID = "0".repeat(26);

type WebSocketCtor = typeof WebSocket;

export async function* streamMessages(baseUrl: string, opts: StreamOptions = {}): AsyncGenerator<Message> {
  // Loaded here, not at module top, so CLI commands that never stream stay fast.
  const { default: WebSocketImpl } = await import("ws");
  const { signal } = opts;
  let resumeAfter: string | null = opts.since ?? null;
  const seen = new RecentIds(SEEN_IDS_KEPT);
  let connectedOnce = false;
  let inOutage = false;
  let attempt = 0;

  while (!signal?.aborted) {
    const conn = new Connection(WebSocketImpl, streamUrl(baseUrl, opts.to, resumeAfter), signal);
    let helloSeen = false;
    try {
      for (let frame = await conn.next(); frame; frame = await conn.next()) {
        if (frame.type === "hello") {
          if (frame.data.protocol !== PROTOCOL_VERSION) {
            throw new SinkApiError(
              "protocol_mismatch",
              0,
              `the sink at ${baseUrl} speaks stream protocol ${frame.data.protocol}, this client ${PROTOCOL_VERSION}; update one of them`,
            );
          }
          helloSeen = true;
          attempt = 0;
          // Without `since` we stream only what arrives after connecting; the hello's
          // lastId pins that point so a reconnect resumes from it.
          if (resumeAfter === null) resumeAfter = frame.data.lastId ?? BEFORE_FIRST_ID;
          if (!connectedOnce) opts.onConnected?.({ lastId: frame.data.lastId });
          if (inOutage) {
            inOutage = false;
            opts.onReconnected?.();
          }
          connectedOnce = true;
        } else if (frame.type === "message") {
          const msg = frame.data;
          if (seen.has(msg.id)) continue;
          seen.add(msg.id);
          if (resumeAfter === null || msg.id > resumeAfter) resumeAfter = msg.id;
          yield msg;
        }
      }
    } finally {
      conn.close();
    }
    if (signal?.aborted) return;

    const err = conn.endError ?? new Error("the stream ended");
    if (!connectedOnce) throw unreachableFrom(baseUrl, err) ?? err;
    if (isFatal(err)) throw err;
    if (!inOutage) {
      inOutage = true;
      opts.onReconnecting?.(err);
    }
    // A sink that shed us for being slow is healthy: come straight back.
    const shed = helloSeen && conn.closeCode === WS_CLOSE_TRY_AGAIN_LATER;
    await sleep(shed ? 0 : backoffMs(attempt++), signal);
  }
}

function backoffMs(attempt: number): number {
  const ceiling = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_INITIAL_DELAY_MS * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** A rejected request (bad filter, wrong URL) will not get better by retrying. */
function isFatal(err: Error): boolean {
  if (!(err instanceof SinkApiError)) return false;
  if (err.code === "protocol_mismatch") return true;
  return err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429;
}

export function streamUrl(baseUrl: string, to: string | string[] | undefined, since: string | null): string {
  const url = new URL(baseUrl + API_PREFIX + "/stream");
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  for (const pattern of to === undefined ? [] : Array.isArray(to) ? to : [to]) {
    url.searchParams.append("to", pattern);
  }
  if (since) url.searchParams.set("since", since);
  return url.toString();
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly max: number) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value as string);
  }
}

/** One WebSocket connection, turned into a pull-based queue of frames. */
class Connection {
  endError: Error | null = null;
  closeCode: number | null = null;
  private readonly ws: WebSocket;
  private readonly queue: { frame: StreamFrame; bytes: number }[] = [];
  private queuedBytes = 0;
  private wake: (() => void) | null = null;
  private ended = false;
  private paused = false;
  private pongPending = false;
  private readonly pinger: NodeJS.Timeout;
  private readonly onAbort = (): void => this.end(null);

  constructor(
    WebSocketImpl: WebSocketCtor,
    url: string,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.ws = new WebSocketImpl(url, { handshakeTimeout: CONNECT_TIMEOUT_MS });
    this.ws.on("message", (data: RawData) => this.onMessage(data));
    this.ws.on("unexpected-response", (req, res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", () => undefined);
      res.on("end", () => {
        this.end(apiErrorFromBody(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8")));
        req.destroy();
      });
    });
    this.ws.on("error", (err: Error & { code?: string }) => {
      if (/handshake has timed out/i.test(err.message)) err.code ??= "ETIMEDOUT";
      this.end(err);
    });
    this.ws.on("close", (code: number, reason: Buffer) => {
      this.closeCode = code;
      const why = reason.length ? `: ${reason.toString("utf8")}` : "";
      this.end(new Error(`the sink closed the stream (code ${code}${why})`));
    });
    this.ws.on("pong", () => (this.pongPending = false));
    this.pinger = setInterval(() => {
      // A paused socket cannot read the pong; the sink sheds us (1013) if we stay behind too long.
      if (this.ws.readyState !== this.ws.OPEN || this.paused) return;
      if (this.pongPending) {
        this.end(new Error(`no answer from the sink for ${(2 * PING_INTERVAL_MS) / 1000}s`));
        return;
      }
      this.pongPending = true;
      this.ws.ping();
    }, PING_INTERVAL_MS);
    this.pinger.unref();
    signal?.addEventListener("abort", this.onAbort, { once: true });
    if (signal?.aborted) this.onAbort();
  }

  /** Next frame, or null once the connection has ended (see endError). */
  async next(): Promise<StreamFrame | null> {
    for (;;) {
      const item = this.queue.shift();
      if (item) {
        this.queuedBytes -= item.bytes;
        if (this.paused && this.queuedBytes <= QUEUE_RESUME_BYTES) {
          this.paused = false;
          this.ws.resume();
        }
        return item.frame;
      }
      if (this.ended) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  close(): void {
    this.end(null);
  }

  private onMessage(data: RawData): void {
    if (this.ended) return;
    const text = data.toString();
    let frame: StreamFrame;
    try {
      frame = JSON.parse(text) as StreamFrame;
    } catch {
      this.end(new Error("the sink sent a frame that is not JSON"));
      return;
    }
    this.queue.push({ frame, bytes: text.length });
    this.queuedBytes += text.length;
    if (!this.paused && this.queuedBytes >= QUEUE_PAUSE_BYTES) {
      this.paused = true;
      this.ws.pause();
    }
    this.poke();
  }

  private end(err: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.endError = err;
    clearInterval(this.pinger);
    this.signal?.removeEventListener("abort", this.onAbort);
    // A deliberate end says goodbye; a broken one must not wait for a close handshake.
    if (this.ws.readyState === this.ws.OPEN && err === null) this.ws.close(1000);
    else if (this.ws.readyState !== this.ws.CLOSED) this.ws.terminate();
    if (err === null) {
      this.queue.length = 0;
      this.queuedBytes = 0;
    }
    this.poke();
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

/** Builds a SinkApiError from a non-2xx response body (`{ error: { code, message } }` when the sink wrote it). */
export function apiErrorFromBody(status: number, body: string): SinkApiError {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (parsed.error && typeof parsed.error.code === "string") {
      return new SinkApiError(parsed.error.code, status, String(parsed.error.message ?? parsed.error.code));
    }
  } catch {
    // not JSON: fall through to the status line
  }
  return new SinkApiError(`http_${status}`, status, `the sink answered HTTP ${status}`);
}
