// The wire protocol shared by the sink (server) and the CLI / client library.
// Everything that crosses the HTTP API or the WebSocket stream is typed here,
// so both sides change together. Keep this module dependency-free: the client
// library and the CLI import it without pulling in the sink.

/** Bumped when a frame or response shape changes incompatibly. */
export const PROTOCOL_VERSION = 1;

export const API_PREFIX = "/api/v1";

export const DEFAULT_SMTP_LISTEN = "127.0.0.1:2525";
export const DEFAULT_HTTP_LISTEN = "127.0.0.1:8025";
export const DEFAULT_SINK_URL = "http://127.0.0.1:8025";
/** Environment variable naming the sink for the CLI's client commands and `new SinkClient()`. */
export const SINK_URL_ENV = "TUN_SINK_URL";

/** WebSocket close code for a subscriber whose send buffer overflowed (RFC 6455 "Try Again Later"). */
export const WS_CLOSE_TRY_AGAIN_LATER = 1013;

/** `wait` timeout bounds, in seconds. */
export const WAIT_TIMEOUT_DEFAULT_S = 30;
export const WAIT_TIMEOUT_MAX_S = 300;

export interface Address {
  address: string;
  name: string;
}

export interface Envelope {
  /** MAIL FROM; empty string for the null sender `<>`. */
  from: string;
  /** Every RCPT TO, in order. */
  to: string[];
}

export interface Summary {
  /** ULID: sortable by arrival. */
  id: string;
  /** ISO 8601. */
  receivedAt: string;
  envelope: Envelope;
  from: Address | null;
  to: Address[];
  cc: Address[];
  subject: string;
  /** Size of the raw message in bytes. */
  size: number;
  attachmentCount: number;
  snippet: string;
  remoteIp: string;
  tls: boolean;
  /** SMTP AUTH username when the client authenticated (`--auth accept-any`), else null. */
  authUser: string | null;
  /** Read state, kept by the sink (`PATCH /messages/:id` with `{ "read": … }`); new mail is unread. */
  read: boolean;
}

export interface Header {
  key: string;
  value: string;
}

export interface AttachmentInfo {
  id: string;
  filename: string | null;
  contentType: string;
  size: number;
  contentId: string | null;
  inline: boolean;
}

export interface Message extends Summary {
  messageId: string | null;
  /** ISO 8601 from the Date header, or null when absent/unparseable. */
  date: string | null;
  heloName: string;
  headers: Header[];
  text: string | null;
  html: string | null;
  attachments: AttachmentInfo[];
}

export interface MessageList {
  messages: Summary[];
  total: number;
  nextCursor: string | null;
}

export interface Health {
  status: "ok";
  version: string;
  messages: number;
  dbBytes: number;
  uptimeSeconds: number;
}

export type ErrorCode =
  | "not_found"
  | "bad_request"
  | "forbidden"
  | "timeout"
  | "method_not_allowed"
  | "payload_too_large"
  | "unavailable"
  | "internal";

export interface ApiError {
  error: { code: ErrorCode; message: string };
}

/** Query filter understood by `GET /messages`, `DELETE /messages`, `/wait` and the stream. */
export interface MessageFilter {
  /** Address, or `@domain` (matches the domain and its subdomains). */
  to?: string;
  from?: string;
  subject?: string;
  q?: string;
  /** ISO time or message id. */
  since?: string;
  /**
   * The search syntax (README "Search"): words, "phrases", to: from: cc: subject:
   * has:attachment is:read is:unread before: after: larger: smaller:, `-` negates;
   * terms are ANDed, and ANDed with the other fields of the filter.
   */
  search?: string;
}

/** A `search=` holds at most this many characters (as `q=`). */
export const SEARCH_MAX_CHARS = 256;
/** A `search=` holds at most this many terms (as `q=`). */
export const SEARCH_MAX_TERMS = 32;

/** Body of `PATCH /messages/:id` and `PATCH /messages?…filter…`. */
export interface ReadUpdate {
  read: boolean;
}

/** Answer of `PATCH /messages/:id` (always 1) and `PATCH /messages` (how many matched). */
export interface UpdateResult {
  updated: number;
}

/** Answer of `DELETE /messages/:id` and `DELETE /messages`. */
export interface DeleteResult {
  deleted: number;
}

/** One link of a message: from the HTML (`<a href>` and its visible text) or a bare URL in the text part. */
export interface ExtractedLink {
  /** http(s) or mailto URL, as written in the message (never followed). */
  href: string;
  /** Visible text of the link; the URL itself for a bare URL. */
  text: string;
  /** True when the visible text shows a host other than the href's host (a phishing tell). */
  mismatch: boolean;
}

/** Answer of `GET /messages/:id/extract`. */
export interface Extraction {
  /** One-time codes found near words like "code", "verification", "OTP", "PIN"; most likely first. */
  codes: string[];
  links: ExtractedLink[];
}

// ---- WebSocket stream: GET /api/v1/stream?to=…&to=…&since=ID -----------------

export interface HelloData {
  version: string;
  protocol: typeof PROTOCOL_VERSION;
  /** Newest stored message id at connect time (null on an empty sink). */
  lastId: string | null;
}

export interface DeletedData {
  ids: string[];
}

/** Messages whose read state changed (by any client), so other tabs update live. */
export interface ReadData {
  ids: string[];
  read: boolean;
}

/** One `{ type, data }` envelope per frame, JSON-encoded. */
export type StreamFrame =
  | { type: "hello"; data: HelloData }
  | { type: "message"; data: Message }
  | { type: "deleted"; data: DeletedData }
  | { type: "read"; data: ReadData };

export type StreamFrameType = StreamFrame["type"];

/**
 * True when `address` matches `pattern`: an exact address (case-insensitive),
 * or `@domain`, which matches that domain and any subdomain of it.
 */
export function addressMatches(pattern: string, address: string): boolean {
  const p = pattern.trim().toLowerCase();
  const a = address.trim().toLowerCase();
  if (p.startsWith("@")) {
    const domain = p.slice(1);
    const at = a.lastIndexOf("@");
    if (at < 0) return false;
    const host = a.slice(at + 1);
    return host === domain || host.endsWith("." + domain);
  }
  return p === a;
}
