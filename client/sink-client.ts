// Typed client for the sink's HTTP API v1 and its WebSocket stream, for test
// suites and the CLI. Uses node:http (and `ws`, loaded only when streaming).
import {
  API_PREFIX,
  DEFAULT_SINK_URL,
  SINK_URL_ENV,
  WAIT_TIMEOUT_DEFAULT_S,
  WAIT_TIMEOUT_MAX_S,
  type Extraction,
  type Health,
  type Message,
  type MessageFilter,
  type MessageList,
  type UpdateResult,
} from "../protocol/wire.js";
import { checkFilter } from "./filter-check.js";
import { SinkApiError, SinkTimeoutError, SinkUnreachableError, unreachableFrom } from "./errors.js";
import { httpRequest, type HttpResponse } from "./http-request.js";
import { apiErrorFromBody, streamMessages, type StreamOptions } from "./message-stream.js";

/** Ordinary requests give up after this long without an answer. */
const REQUEST_TIMEOUT_MS = 15_000;
/** A `wait` request is held by the sink for its timeout; allow this much on top for the answer. */
const WAIT_ANSWER_GRACE_MS = 10_000;

export interface ListOptions extends MessageFilter {
  limit?: number;
  cursor?: string;
}

export interface WaitOptions {
  /** Address or `@domain` pattern. At least one of `to` and `search` is required. */
  to?: string;
  /** The search syntax (README "Search"), ANDed with the other fields. */
  search?: string;
  subject?: string;
  from?: string;
  /** Only messages after this id or ISO time. */
  since?: string;
  /** Default 30 s. Longer waits than the sink's 300 s maximum are split into several requests. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export type { StreamOptions };

export interface SinkClientOptions {
  /** Ordinary requests (not waitFor) give up after this long; default 15 s. */
  requestTimeoutMs?: number;
}

export class SinkClient {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:8025`. */
  readonly url: string;
  private readonly requestTimeoutMs: number;

  /** `url` defaults to $TUN_SINK_URL, else http://127.0.0.1:8025: the same sink the CLI finds. */
  constructor(url?: string, options: SinkClientOptions = {}) {
    url ??= process.env[SINK_URL_ENV]?.trim() || DEFAULT_SINK_URL;
    this.requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError(`invalid sink URL "${url}": expected something like http://127.0.0.1:8025`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new TypeError(`invalid sink URL "${url}": only http:// and https:// are supported`);
    }
    this.url = parsed.toString().replace(/\/+$/, "");
  }

  /** Summaries, newest first. */
  async list(filter: ListOptions = {}): Promise<MessageList> {
    return this.json<MessageList>(`/messages${query(filter)}`);
  }

  /** The full message (attachment metadata, no bodies). SinkApiError with code "not_found" when absent. */
  async get(id: string): Promise<Message> {
    return this.json<Message>(`/messages/${encodeURIComponent(id)}`);
  }

  /** The exact bytes the sink received. */
  async raw(id: string): Promise<Buffer> {
    const res = await this.request(`/messages/${encodeURIComponent(id)}/raw`);
    return res.body();
  }

  /** One attachment's bytes (ids as in `get(id).attachments`). SinkApiError "not_found" when absent. */
  async attachment(id: string, attachmentId: string): Promise<Buffer> {
    const res = await this.request(
      `/messages/${encodeURIComponent(id)}/attachments/${encodeURIComponent(attachmentId)}`,
    );
    return res.body();
  }

  async health(): Promise<Health> {
    return this.json<Health>("/health");
  }

  /**
   * Resolves with the first message matching the filter, already stored or
   * arriving later; rejects with SinkTimeoutError when none arrives in time.
   */
  async waitFor(opts: WaitOptions): Promise<Message> {
    checkFilter("waitFor", opts, WAIT_KEYS);
    if (!opts.to && !opts.search) {
      throw new TypeError(
        "waitFor needs `to` (an address or @domain) or `search`, so it cannot match any message",
      );
    }
    const timeoutMs = opts.timeoutMs ?? WAIT_TIMEOUT_DEFAULT_S * 1000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const remainingS = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
      const chunkS = Math.min(remainingS, WAIT_TIMEOUT_MAX_S);
      const filter = {
        to: opts.to,
        subject: opts.subject,
        from: opts.from,
        since: opts.since,
        search: opts.search,
      };
      try {
        return await this.json<Message>(`/wait${query({ ...filter, timeout: chunkS })}`, {
          timeoutMs: chunkS * 1000 + WAIT_ANSWER_GRACE_MS,
          signal: opts.signal,
        });
      } catch (err) {
        if (!(err instanceof SinkApiError && err.status === 408)) throw err;
        if (Date.now() >= deadline - 500) {
          throw new SinkTimeoutError(
            `no message ${describeWait(opts)} arrived within ${formatSeconds(timeoutMs)}`,
            timeoutMs,
          );
        }
      }
    }
  }

  /**
   * Deletes one message by id, the messages matching a filter, or (no argument) everything.
   * A filter with an empty or undefined value, an unknown key, or no key at all throws a
   * TypeError before anything is sent: it never means "everything".
   */
  async delete(filter?: MessageFilter | { id: string }): Promise<{ deleted: number }> {
    if (filter === undefined) return this.deleteMatching("");
    if (typeof filter !== "object" || filter === null)
      throw new TypeError("delete: expected no argument, { id } or a filter such as { to }");
    if ("id" in filter) {
      checkFilter("delete", filter, ["id"]);
      if (typeof filter.id !== "string" || !filter.id.trim())
        throw new TypeError(
          `delete: id must be a message id, got ${JSON.stringify(filter.id)} (nothing was sent)`,
        );
      return this.deleteMatching(`/${encodeURIComponent(filter.id)}`, true);
    }
    checkFilter("delete", filter, DELETE_KEYS);
    if (Object.keys(filter).length === 0)
      throw new TypeError("delete: the filter is empty; call delete() with no argument to delete everything");
    return this.deleteMatching(query(filter));
  }

  private async deleteMatching(suffix: string, byId = false): Promise<{ deleted: number }> {
    const path = `/messages${suffix}`;
    const res = await this.request(path, { method: "DELETE" });
    const text = (await res.body()).toString("utf8");
    const parsed = text ? (JSON.parse(text) as { deleted?: unknown }) : {};
    if (typeof parsed.deleted === "number") return { deleted: parsed.deleted };
    // A 2xx for a single id means it existed and is gone, whatever the body says.
    return { deleted: byId ? 1 : 0 };
  }

  /** Marks one message read (or unread with `read = false`). SinkApiError "not_found" when absent. */
  async markRead(id: string, read = true): Promise<UpdateResult> {
    return this.json<UpdateResult>(`/messages/${encodeURIComponent(id)}`, {
      method: "PATCH",
      body: { read },
    });
  }

  /**
   * Marks every message matching the filter read (or unread with `read = false`); with no
   * filter, every message ("mark all read"). Resolves with how many messages matched.
   */
  async markAllRead(filter: MessageFilter = {}, read = true): Promise<UpdateResult> {
    checkFilter("markAllRead", filter, DELETE_KEYS);
    return this.json<UpdateResult>(`/messages${query(filter)}`, { method: "PATCH", body: { read } });
  }

  /** The one-time codes and the links of a message (`GET /messages/:id/extract`). */
  async extract(id: string, opts: { signal?: AbortSignal } = {}): Promise<Extraction> {
    return this.json<Extraction>(`/messages/${encodeURIComponent(id)}/extract`, { signal: opts.signal });
  }

  /**
   * Live messages as an async iterator. Reconnects with backoff after drops and
   * resumes after the last message it yielded: nothing missed, nothing twice.
   * Rejects with SinkUnreachableError when the first connection fails; ends
   * normally when `signal` aborts or the loop breaks.
   */
  stream(opts: StreamOptions = {}): AsyncIterable<Message> {
    return streamMessages(this.url, opts);
  }

  private async json<T>(
    path: string,
    opts: RequestOptions & { method?: string; body?: unknown } = {},
  ): Promise<T> {
    const res = await this.request(path, opts);
    return JSON.parse((await res.body()).toString("utf8")) as T;
  }

  /** A 2xx response whose body() reports a connection lost half-way like any other network failure. */
  private async request(
    path: string,
    opts: RequestOptions & { method?: string; body?: unknown } = {},
  ): Promise<HttpResponse> {
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? this.requestTimeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const failure = (err: unknown): unknown => {
      if (opts.signal?.aborted) return opts.signal.reason ?? err;
      if (timeout.aborted) return new SinkUnreachableError(this.url, "timed out", { cause: err });
      return unreachableFrom(this.url, err) ?? err;
    };
    let sent: HttpResponse;
    try {
      sent = await httpRequest(this.url + API_PREFIX + path, opts.method ?? "GET", signal, opts.body);
    } catch (err) {
      throw failure(err);
    }
    const res: HttpResponse = {
      ...sent,
      body: () =>
        sent.body().catch((err: unknown) => {
          throw failure(err);
        }),
    };
    if (!res.ok) throw apiErrorFromBody(res.status, (await res.body()).toString("utf8"));
    return res;
  }
}

/** What waitFor and delete(filter) / markAllRead(filter) take; anything else is a typo that must not widen the filter. */
const WAIT_KEYS = ["to", "from", "subject", "since", "search", "timeoutMs", "signal"];
const DELETE_KEYS = ["to", "from", "subject", "q", "since", "search"];

interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

function query(params: object): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params) as [string, string | number | undefined][]) {
    if (value !== undefined && value !== "") q.set(key, String(value));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** "to qa@x.test with subject containing "Welcome"", for timeout messages. */
export function describeWait(
  opts: Pick<WaitOptions, "to" | "subject" | "from" | "since" | "search">,
): string {
  const parts = opts.to ? [`to ${opts.to}`] : [];
  if (opts.search) parts.push(`matching ${JSON.stringify(opts.search)}`);
  if (opts.from) parts.push(`from ${opts.from}`);
  if (opts.subject) parts.push(`with subject containing "${opts.subject}"`);
  if (opts.since) parts.push(`after ${opts.since}`);
  return parts.join(" ");
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
}
