// Query parameters -> validated filters; every bad value is a 400 naming the parameter.
import { WAIT_TIMEOUT_DEFAULT_S, WAIT_TIMEOUT_MAX_S } from "../../protocol/wire.js";
import { searchCondition } from "../search/compile.js";
import { SearchSyntaxError } from "../search/parse.js";
import { parseSince } from "../storage/filter.js";
import { LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, ULID_RE, type StoreFilter } from "../storage/store.js";
import { badRequest } from "./respond.js";

const ADDRESS_PATTERN_RE = /^(@[^\s@]+|[^\s@]*@[^\s@]+|[^\s@]+)$/;

function last(params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name);
  const v = all[all.length - 1];
  return v === undefined || v === "" ? undefined : v;
}

function addressPattern(params: URLSearchParams, name: string): string | undefined {
  const v = last(params, name);
  if (v !== undefined && !ADDRESS_PATTERN_RE.test(v.trim())) {
    throw badRequest(`${name}= must be an address (a@b.example) or a domain (@b.example), got "${v}"`);
  }
  return v?.trim();
}

export function filterFromQuery(params: URLSearchParams): StoreFilter {
  const filter: StoreFilter = {};
  const to = addressPattern(params, "to");
  const from = addressPattern(params, "from");
  const subject = last(params, "subject");
  const q = last(params, "q");
  const since = last(params, "since");
  if (to) filter.to = to;
  if (from) filter.from = from;
  if (subject) filter.subject = subject;
  if (q) filter.q = q;
  if (since) {
    const parsed = parseSince(since);
    if (!parsed) throw badRequest(`since= must be a message id or an ISO time, got "${since}"`);
    filter.since = parsed;
  }
  const search = params.getAll("search").at(-1);
  if (search !== undefined) filter.search = searchFromQuery(search);
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
  const v = last(params, "limit");
  if (v === undefined) return LIST_LIMIT_DEFAULT;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > LIST_LIMIT_MAX) {
    throw badRequest(`limit= must be a whole number from 1 to ${LIST_LIMIT_MAX}, got "${v}"`);
  }
  return n;
}

export function cursorFromQuery(params: URLSearchParams): string | null {
  const v = last(params, "cursor");
  if (v === undefined) return null;
  if (!ULID_RE.test(v)) throw badRequest(`cursor= must be the nextCursor of a previous page, got "${v}"`);
  return v.toUpperCase();
}

/** wait's timeout= in seconds -> ms. */
export function waitTimeoutMs(params: URLSearchParams): number {
  const v = last(params, "timeout");
  if (v === undefined) return WAIT_TIMEOUT_DEFAULT_S * 1000;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > WAIT_TIMEOUT_MAX_S) {
    throw badRequest(`timeout= must be a number of seconds from 0 to ${WAIT_TIMEOUT_MAX_S}, got "${v}"`);
  }
  return Math.round(n * 1000);
}

export function describeFilter(f: StoreFilter): string {
  const parts: string[] = [];
  if (f.to) parts.push(`to=${f.to}`);
  if (f.from) parts.push(`from=${f.from}`);
  if (f.subject) parts.push(`subject=${JSON.stringify(f.subject)}`);
  if (f.q) parts.push(`q=${JSON.stringify(f.q)}`);
  if (f.search) parts.push(`search=${JSON.stringify(f.search.text)}`);
  if (f.since?.id) parts.push(`since=${f.since.id}`);
  if (f.since?.timeMs !== undefined) parts.push(`since=${new Date(f.since.timeMs).toISOString()}`);
  return parts.length ? parts.join(" ") : "any message";
}
