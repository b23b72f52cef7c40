// The search syntax (`search=`): one parser, shared by every endpoint that
// takes it. It turns the text into a list of terms (an AST); compile.ts turns
// the terms into the store's WHERE clauses. Every term is ANDed.
//
//   word  "a phrase"            full text (as q=: each word a prefix, a phrase in order)
//   to: from: cc:               an address, or @domain (and its subdomains)
//   subject:                    a substring of the subject (quote it for spaces)
//   has:attachment              at least one attachment
//   is:read  is:unread          read state
//   before:  after:             a date (2026-12-01, 00:00 UTC) or an ISO time
//   larger:  smaller:           a size: 2048, 100KB, 2MB (1 KB = 1024 bytes)
//   -term                       negates any term
import { SEARCH_MAX_CHARS, SEARCH_MAX_TERMS } from "../../protocol/wire.js";

export type AddressField = "to" | "from" | "cc";

export type SearchTerm = { negated: boolean; source: string } & (
  | { kind: "text"; words: string[]; phrase: boolean }
  | { kind: "address"; field: AddressField; pattern: string }
  | { kind: "subject"; value: string }
  | { kind: "has-attachment" }
  | { kind: "read"; read: boolean }
  | { kind: "time"; op: "before" | "after"; timeMs: number }
  | { kind: "size"; op: "larger" | "smaller"; bytes: number }
);

export type SearchQuery = SearchTerm[];

/** A query the parser refuses; the message names the bad term and says what would be accepted. */
export class SearchSyntaxError extends Error {}

const BYTES_PER_UNIT: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
};
const SIZE_RE = /^(\d+(?:\.\d+)?)([a-z]*)$/i;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const ADDRESS_RE = /^(@[^\s@]+|[^\s@]+@[^\s@]+)$/;
/** What the full-text index treats as a word (the same rule as q=). */
const WORD_RE = /[\p{L}\p{N}_]+/gu;
const OPERATORS = "to: from: cc: subject: has:attachment is:read is:unread before: after: larger: smaller:";

/** Splits the text into raw terms: runs of non-space, where a "…" run may hold spaces. */
function tokenize(text: string): string[] {
  const terms: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) {
      i++;
      continue;
    }
    let j = i;
    let quoted = false;
    while (j < text.length && (quoted || !/\s/.test(text[j]!))) {
      if (text[j] === '"') quoted = !quoted;
      j++;
    }
    const term = text.slice(i, j);
    if (quoted) throw new SearchSyntaxError(`unclosed quote in search term ${term}: add the closing "`);
    terms.push(term);
    i = j;
  }
  return terms;
}

/** `"a b"` -> `a b`; a value with a quote anywhere else is refused. */
function unquote(value: string, source: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    const inner = value.slice(1, -1);
    if (!inner.includes('"')) return inner;
  } else if (!value.includes('"')) {
    return value;
  }
  throw new SearchSyntaxError(
    `misplaced quote in search term ${source}: quote a whole value, like subject:"a b"`,
  );
}

/** True when YYYY-MM-DD is a day of the calendar (Date.parse rolls 2026-02-31 over to March). */
function isCalendarDay(ymd: string): boolean {
  const [y, m, d] = ymd.split("-").map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d));
  return day.getUTCFullYear() === y && day.getUTCMonth() === m - 1 && day.getUTCDate() === d;
}

function parseTime(value: string, source: string): number {
  let ms = NaN;
  if (DATE_RE.test(value)) ms = Date.parse(`${value}T00:00:00Z`);
  // a time without a zone is UTC, whatever the sink's own zone is
  else if (TIME_RE.test(value)) ms = Date.parse(/(z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`);
  if (Number.isNaN(ms) || !isCalendarDay(value.slice(0, 10))) {
    throw new SearchSyntaxError(
      `bad date in search term ${source}: use a date like 2026-12-01 or an ISO time like 2026-12-01T09:30:00Z`,
    );
  }
  return ms;
}

function parseSize(value: string, source: string): number {
  const m = SIZE_RE.exec(value);
  const unit = BYTES_PER_UNIT[(m?.[2] ?? "").toLowerCase()];
  if (!m || unit === undefined) {
    throw new SearchSyntaxError(
      `bad size in search term ${source}: use bytes or a unit, like 2048, 100KB or 2MB`,
    );
  }
  return Math.round(Number(m[1]) * unit);
}

function textTerm(body: string, source: string): { words: string[]; phrase: boolean } {
  const phrase = body.startsWith('"');
  const words = unquote(body, source).match(WORD_RE);
  if (!words) {
    throw new SearchSyntaxError(`search term ${source} has no letters or digits to search for`);
  }
  return { words: words.map((w) => w.toLowerCase()), phrase };
}

function parseTerm(source: string): SearchTerm {
  const negated = source.length > 1 && source.startsWith("-");
  const body = negated ? source.slice(1) : source;
  const base = { negated, source };
  const colon = body.indexOf(":");
  // an operator is letters before the first colon, outside quotes ("a:b" is text)
  if (colon < 1 || body.startsWith('"') || !/^[a-z]+$/i.test(body.slice(0, colon))) {
    return { ...base, kind: "text", ...textTerm(body, source) };
  }
  const key = body.slice(0, colon).toLowerCase();
  const rawValue = body.slice(colon + 1);
  const value = unquote(rawValue, source).trim();
  if (!value) throw new SearchSyntaxError(`search term ${source} has no value after the colon`);
  switch (key) {
    case "to":
    case "from":
    case "cc":
      if (!ADDRESS_RE.test(value)) {
        throw new SearchSyntaxError(
          `bad address in search term ${source}: use an address (${key}:a@b.example) or a domain (${key}:@b.example)`,
        );
      }
      return { ...base, kind: "address", field: key, pattern: value.toLowerCase() };
    case "subject":
      return { ...base, kind: "subject", value };
    case "has":
      if (value.toLowerCase() !== "attachment") {
        throw new SearchSyntaxError(`unknown search term ${source}: the only has: is has:attachment`);
      }
      return { ...base, kind: "has-attachment" };
    case "is": {
      const v = value.toLowerCase();
      if (v !== "read" && v !== "unread") {
        throw new SearchSyntaxError(`unknown search term ${source}: use is:read or is:unread`);
      }
      return { ...base, kind: "read", read: v === "read" };
    }
    case "before":
    case "after":
      return { ...base, kind: "time", op: key, timeMs: parseTime(value, source) };
    case "larger":
    case "smaller":
      return { ...base, kind: "size", op: key, bytes: parseSize(value, source) };
    default:
      throw new SearchSyntaxError(
        `unknown operator in search term ${source}: the operators are ${OPERATORS}; put a literal word with a colon in quotes`,
      );
  }
}

/** Parses a `search=` text. Throws SearchSyntaxError naming the first bad term. */
export function parseSearch(text: string): SearchQuery {
  if (text.length > SEARCH_MAX_CHARS) {
    throw new SearchSyntaxError(
      `search is ${text.length} characters long; at most ${SEARCH_MAX_CHARS} are allowed`,
    );
  }
  const sources = tokenize(text);
  if (!sources.length) throw new SearchSyntaxError("search is empty; leave it out to match every message");
  if (sources.length > SEARCH_MAX_TERMS) {
    throw new SearchSyntaxError(
      `search has ${sources.length} terms; at most ${SEARCH_MAX_TERMS} are allowed`,
    );
  }
  return sources.map(parseTerm);
}
