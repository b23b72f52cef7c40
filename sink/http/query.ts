// Query parameters -> validated filters; every bad value is a 400 naming the parameter.
//
// Filters mean what they say: an unknown parameter, a repeated one, or an
// empty filter value is refused, never read as "no filter" (which, for a
// DELETE, would be "everything"). PARAMS_BY_ENDPOINT is the one list of what
// each endpoint takes.
import { WAIT_TIMEOUT_DEFAULT_S, WAIT_TIMEOUT_MAX_S } from "../../protocol/wire.js";
import { searchCondition } from "../search/compile.js";
import { SearchSyntaxError } from "../search/parse.js";
import { fullTextProblem } from "../storage/filter-sql.js";
import { parseSince } from "../storage/filter.js";
import { LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, ULID_RE, type StoreFilter } from "../storage/store.js";
import { printable } from "../../protocol/printable.js";
import { badRequest } from "./respond.js";

/** One character of an address pattern: no whitespace, "@" or control character. */
const ADDRESS_CHAR = "[^\\s@\\u0000-\\u001f\\u007f]";
/** Address, @domain or a bare local part (list/delete/wait). */
const ADDRESS_PATTERN_RE = new RegExp(
  `^(@${ADDRESS_CHAR}+|${ADDRESS_CHAR}*@${ADDRESS_CHAR}+|${ADDRESS_CHAR}+)$`,
);
/** Address or @domain (the stream's to= patterns). */
export const STREAM_PATTERN_RE = new RegExp(`^(@${ADDRESS_CHAR}+|${ADDRESS_CHAR}+@${ADDRESS_CHAR}+)$`);

const FILTER = ["to", "from", "subject", "q", "since", "search"] as const;

/**
 * Query parameters each endpoint accepts, keyed "METHOD /path" (":id" for a
 * message id). Endpoints not listed take none. `search` is the search syntax
 * (api-ui's parser); `read` the read state filter of PATCH.
 */
export const PARAMS_BY_ENDPOINT: Readonly<Record<string, readonly string[]>> = {
  "GET /messages": [...FILTER, "limit", "cursor"],
  "DELETE /messages": FILTER,
  "PATCH /messages": FILTER,
  "GET /wait": ["to", "from", "subject", "since", "search", "timeout"],
  "GET /stream": ["to", "since"],
  "GET /messages/:id/html": ["remote"],
};

/** Parameters that may appear more than once (the stream's to= patterns). */
const REPEATABLE: Readonly<Record<string, readonly string[]>> = { "GET /stream": ["to"] };

/**
 * Refuses unknown, repeated and empty parameters for `endpoint` (a key of
 * PARAMS_BY_ENDPOINT, or any other "METHOD /path", which then takes none).
 */
export function checkParams(endpoint: string, params: URLSearchParams): void {
  const allowed = PARAMS_BY_ENDPOINT[endpoint] ?? [];
  const repeatable = REPEATABLE[endpoint] ?? [];
  const seen = new Set<string>();
  for (const [name, value] of params) {
    const shown = printable(name).slice(0, 64);
    if (!allowed.includes(name)) {
      throw badRequest(
        allowed.length
          ? `unknown query parameter ${shown}=; ${endpoint} takes ${allowed.join(", ")}`
          : `unknown query parameter ${shown}=; ${endpoint} takes no query parameters`,
      );
    }
    if (seen.has(name) && !repeatable.includes(name))
      throw badRequest(`${name}= is given more than once; give it once`);
    seen.add(name);
    if (value.trim() === "") throw badRequest(`${name}= is empty; give a value or leave the parameter out`);
  }
}

function one(params: URLSearchParams, name: string): string | undefined {
  return params.get(name) ?? undefined;
}

function addressPattern(params: URLSearchParams, name: string): string | undefined {
  const v = one(params, name);
  if (v !== undefined && !ADDRESS_PATTERN_RE.test(v.trim())) {
    throw badRequest(
      `${name}= must be an address (a@b.example) or a domain (@b.example), got "${printable(v)}"`,
    );
  }
  return v?.trim();
}

/** Call checkParams first: this reads the (single, non-empty) filter values. */
export function filterFromQuery(params: URLSearchParams): StoreFilter {
  const filter: StoreFilter = {};
  const to = addressPattern(params, "to");
  const from = addressPattern(params, "from");
  const subject = one(params, "subject");
  const q = one(params, "q");
  const since = one(params, "since");
  if (to) filter.to = to;
  if (from) filter.from = from;
  if (subject) filter.subject = subject;
  if (q) {
    const problem = fullTextProblem(q);
    if (problem) throw badRequest(problem);
    filter.q = q;
  }
  if (since) {
    const parsed = parseSince(since);
    if (!parsed) throw badRequest(`since= must be a message id or an ISO time, got "${printable(since)}"`);
    filter.since = parsed;
  }
  const search = params.get("search");
  if (search !== null) filter.search = searchFromQuery(search);
  return filter;
}

/** search= -> the store's condition; ANDed with the other parameters. An empty one is refused, never "everything". */
function searchFromQuery(text: string) {
  if (!text.trim()) throw badRequest("search= is empty: leave it out to match every message");
  try {
    return searchCondition(text);
  } catch (err) {
    if (err instanceof SearchSyntaxError) throw badRequest(`search= ${err.message}`);
    throw err;
  }
}

export function isEmptyFilter(f: StoreFilter): boolean {
  return !f.to && !f.from && !f.subject && !f.q && !f.since && !f.search;
}

export function limitFromQuery(params: URLSearchParams): number {
  const v = one(params, "limit");
  if (v === undefined) return LIST_LIMIT_DEFAULT;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > LIST_LIMIT_MAX) {
    throw badRequest(`limit= must be a whole number from 1 to ${LIST_LIMIT_MAX}, got "${printable(v)}"`);
  }
  return n;
}

export function cursorFromQuery(params: URLSearchParams): string | null {
  const v = one(params, "cursor");
  if (v === undefined) return null;
  if (!ULID_RE.test(v))
    throw badRequest(`cursor= must be the nextCursor of a previous page, got "${printable(v)}"`);
  return v.toUpperCase();
}

/** wait's timeout= in seconds -> ms. */
export function waitTimeoutMs(params: URLSearchParams): number {
  const v = one(params, "timeout");
  if (v === undefined) return WAIT_TIMEOUT_DEFAULT_S * 1000;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > WAIT_TIMEOUT_MAX_S) {
    throw badRequest(
      `timeout= must be a number of seconds from 0 to ${WAIT_TIMEOUT_MAX_S}, got "${printable(v)}"`,
    );
  }
  return Math.round(n * 1000);
}

/** /html's remote=1: load the message's remote images (the user's choice; default off). */
export function remoteImagesFromQuery(params: URLSearchParams): boolean {
  const v = one(params, "remote");
  if (v === undefined || v === "0") return false;
  if (v === "1") return true;
  throw badRequest(`remote= must be 1 (load remote images) or 0, got "${printable(v)}"`);
}

/** "value" with quotes and backslashes escaped, and control characters as \xNN. */
function quoted(value: string): string {
  return `"${printable(value.replace(/["\\]/g, "\\$&"))}"`;
}

/** A filter for log lines: values quoted or escaped, no raw control bytes. */
export function describeFilter(f: StoreFilter): string {
  const parts: string[] = [];
  if (f.to) parts.push(`to=${printable(f.to)}`);
  if (f.from) parts.push(`from=${printable(f.from)}`);
  if (f.subject) parts.push(`subject=${quoted(f.subject)}`);
  if (f.q) parts.push(`q=${quoted(f.q)}`);
  if (f.search) parts.push(`search=${quoted(f.search.text)}`);
  if (f.since?.id) parts.push(`since=${f.since.id}`);
  if (f.since?.timeMs !== undefined) parts.push(`since=${new Date(f.since.timeMs).toISOString()}`);
  return parts.length ? parts.join(" ") : "any message";
}
