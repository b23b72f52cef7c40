// Parsed search terms -> one SQL condition over the store's schema (messages m,
// addresses, messages_fts), with its parameters. Values are always bound as
// parameters, never spliced into the SQL: the SQL text depends only on the
// kinds of the terms, so the store's statement cache sees a bounded set of shapes.
import { addressClause, type Clauses } from "../storage/filter-sql.js";
import type { SearchCondition } from "../storage/store.js";
import { parseSearch, type SearchQuery, type SearchTerm } from "./parse.js";

/** "a b" as an FTS5 phrase; a bare word matches as a prefix (like q=), a quoted phrase word for word. */
function ftsMatch(words: readonly string[], phrase: boolean): string {
  // words hold only letters, digits and _ (parse.ts), so nothing in them needs escaping
  return `"${words.join(" ")}"${phrase ? "" : "*"}`;
}

// Conditions on columns stored after `raw` are written as "m.seq IN (SELECT rowid … )" so that
// SQLite answers them from an index of migration 003 that holds the column, never from the rows
// (reading a column after raw walks raw's overflow pages).

/** Cc only (to: already covers Cc through the addresses table, like to=). */
function ccCondition(pattern: string): { sql: string; params: unknown[] } {
  const address = "lower(json_extract(c.value, '$.address'))";
  const withCc = (test: string): string =>
    `m.seq IN (SELECT rowid FROM messages WHERE cc_json <> '[]' AND EXISTS (SELECT 1 FROM json_each(cc_json) c WHERE ${test}))`;
  if (pattern.startsWith("@")) {
    const domain = pattern.slice(1);
    // ends with "@domain" or ".domain": the domain or a subdomain of it
    return {
      sql: withCc(`substr(${address}, -?) = ? OR substr(${address}, -?) = ?`),
      params: [domain.length + 1, `@${domain}`, domain.length + 1, `.${domain}`],
    };
  }
  return { sql: withCc(`${address} = ?`), params: [pattern] };
}

/** to:/from: as the to=/from= filters build them (the addresses table). */
function addressCondition(kind: 0 | 1, pattern: string): { sql: string; params: unknown[] } {
  const out: Clauses = { sql: [], params: [] };
  addressClause(kind, pattern, out);
  return { sql: out.sql.join(" AND "), params: out.params };
}

function termCondition(t: SearchTerm): { sql: string; params: unknown[] } {
  switch (t.kind) {
    case "text":
      return {
        sql: "m.seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)",
        params: [ftsMatch(t.words, t.phrase)],
      };
    case "address":
      return t.field === "cc"
        ? ccCondition(t.pattern)
        : addressCondition(t.field === "to" ? 0 : 1, t.pattern);
    case "subject":
      return {
        sql: "m.seq IN (SELECT rowid FROM messages WHERE instr(subject_lc, ?) > 0)",
        params: [t.value.toLowerCase()],
      };
    case "has-attachment":
      return { sql: "m.seq IN (SELECT rowid FROM messages WHERE attachments_json <> '[]')", params: [] };
    case "read":
      return { sql: `m.seq ${t.read ? "IN" : "NOT IN"} (SELECT seq FROM read_marks)`, params: [] };
    case "time":
      return { sql: t.op === "before" ? "m.received_at < ?" : "m.received_at >= ?", params: [t.timeMs] };
    case "size":
      return { sql: t.op === "larger" ? "m.size > ?" : "m.size < ?", params: [t.bytes] };
  }
}

/** One condition for the whole query: every term ANDed, each negated one wrapped in NOT. */
export function compileSearch(query: SearchQuery, text: string): SearchCondition {
  const sql: string[] = [];
  const params: unknown[] = [];
  for (const term of query) {
    const c = termCondition(term);
    sql.push(term.negated ? `NOT (${c.sql})` : c.sql);
    params.push(...c.params);
  }
  return { text, sql: sql.join(" AND "), params, fullText: query.some((t) => t.kind === "text") };
}

/** Parses and compiles a `search=` text; throws SearchSyntaxError naming the bad term. */
export function searchCondition(text: string): SearchCondition {
  return compileSearch(parseSearch(text), text);
}
