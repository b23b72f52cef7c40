// The public HTTP API, as the UI calls it: same origin, JSON in and out, and
// the server's own error message surfaced as an ApiError.
import { API_PREFIX } from "../../protocol/wire.js";
import type { Extraction, Message, MessagePage } from "./types.js";

/** Summaries fetched per page of the list when scrolling. */
export const PAGE_SIZE = 200;
/**
 * The first page of a search is smaller: it only has to fill the screen (a
 * 2,000 px tall list shows 30 rows) and stay ahead of the load-ahead margin,
 * and at 200 rows its JSON took most of a cold page load (bench/ui-load.mjs).
 */
export const FIRST_PAGE_SIZE = 100;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(API_PREFIX + path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "unreachable", "the sink did not answer; is it running?");
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the status line as the message
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(res.status, err?.code ?? "http", err?.message ?? `${res.status} ${res.statusText}`);
  }
  return json as T;
}

/** `?search=…` (omitted when empty) plus any other parameters. */
function query(search: string, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  if (search.trim()) p.set("search", search.trim());
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

export const messageUrl = (id: string, part = ""): string => `${API_PREFIX}/messages/${id}${part}`;

/** Where "Deliver to app" posts (answered by `tun up --deliver`'s UI proxy, never by a plain sink). */
export interface DeliverTarget {
  target: string;
  format: string;
}

/** One delivery's outcome: the app's status (null when it gave none) and time, or why it failed. */
export interface DeliverResult {
  status: number | null;
  ms: number;
  error: string | null;
  head: string;
}

export const api = {
  /** The delivery target, or null where there is none (a plain sink answers 404). */
  deliverTarget: (): Promise<DeliverTarget | null> =>
    call<DeliverTarget>("GET", "/deliver").catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }),
  deliver: (id: string): Promise<DeliverResult> => call("POST", `/messages/${id}/deliver`),
  list: (search: string, cursor: string | null, limit = PAGE_SIZE): Promise<MessagePage> =>
    call("GET", `/messages${query(search, { limit: String(limit), ...(cursor ? { cursor } : {}) })}`),
  get: (id: string): Promise<Message> => call("GET", `/messages/${id}`),
  extract: (id: string): Promise<Extraction> => call("GET", `/messages/${id}/extract`),
  setRead: (id: string, read: boolean): Promise<unknown> => call("PATCH", `/messages/${id}`, { read }),
  markAllRead: (search: string): Promise<unknown> =>
    call("PATCH", `/messages${query(search)}`, { read: true }),
  remove: (id: string): Promise<{ deleted: number }> => call("DELETE", `/messages/${id}`),
  removeMatching: (search: string): Promise<{ deleted: number }> =>
    call("DELETE", `/messages${query(search)}`),
  async raw(id: string): Promise<string> {
    const res = await fetch(messageUrl(id, "/raw"));
    if (!res.ok) throw new ApiError(res.status, "http", `could not load the source (${res.status})`);
    return res.text();
  },
};
