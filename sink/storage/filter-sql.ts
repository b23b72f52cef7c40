// A StoreFilter -> SQL WHERE clauses. Pure: the main thread and the reader
// worker build the same statements from it. The SQL text depends only on the
// filter's shape (which fields are set, an address or a @domain), never on its
// values, so the prepared-statement caches stay small.
//
// A new filter kind is one more ClauseBuilder in CLAUSE_BUILDERS (and its
// field in StoreFilter, its check in matchesFilter for wait and the stream).
import type { StoreFilter } from "./store.js";

/** Most words a q= may hold: every word is one more FTS5 term lookup and intersection. */
export const Q_MAX_TERMS = 32;
/** Longest q= in characters. */
export const Q_MAX_CHARS = 256;

export interface Clauses {
  sql: string[];
  params: unknown[];
}

/** Adds its clauses for one filter field; false when the filter can match nothing. */
type ClauseBuilder = (filter: StoreFilter, out: Clauses) => boolean;

/** "qa@api.example.com" -> "com.example.api." ; a pattern "@example.com" -> "com.example." */
export function reversedDomain(domain: string): string {
  return (
    domain
      .toLowerCase()
      .split(".")
      .filter((l) => l !== "")
      .reverse()
      .join(".") + "."
  );
}

/** The rdomain range [low, high) that a "@domain" pattern covers, subdomains included. */
export function domainRange(pattern: string): [string, string] {
  const prefix = reversedDomain(pattern.slice(1));
  return [prefix, prefix.slice(0, -1) + "/"];
}

function words(q: string): string[] {
  return q.match(/[\p{L}\p{N}_]+/gu) ?? [];
}

/** Why a q= is refused (too long, too many words), or null when it is fine. */
export function fullTextProblem(q: string): string | null {
  if (q.length > Q_MAX_CHARS) return `q= may hold at most ${Q_MAX_CHARS} characters, got ${q.length}`;
  const n = words(q).length;
  if (n > Q_MAX_TERMS) return `q= may hold at most ${Q_MAX_TERMS} words, got ${n}`;
  return null;
}

/** Turns q= into an FTS5 query: every word must appear, each as a prefix. Null when it has no word. */
export function ftsQuery(q: string): string | null {
  const w = words(q);
  if (!w.length) return null;
  return w.map((x) => `"${x}"*`).join(" AND ");
}

// "seq IN (subquery)" lets SQLite drive the lookup from the addresses index;
// an EXISTS per row would scan every message. Also used by search= (sink/search).
export function addressClause(kind: 0 | 1, pattern: string, out: Clauses): void {
  const p = pattern.trim().toLowerCase();
  if (p.startsWith("@")) {
    out.sql.push(
      `m.seq IN (SELECT a.seq FROM addresses a WHERE a.kind = ${kind} AND a.rdomain >= ? AND a.rdomain < ?)`,
    );
    out.params.push(...domainRange(p));
  } else {
    out.sql.push(`m.seq IN (SELECT a.seq FROM addresses a WHERE a.kind = ${kind} AND a.address = ?)`);
    out.params.push(p);
  }
}

const CLAUSE_BUILDERS: ClauseBuilder[] = [
  (f, out) => (f.to && addressClause(0, f.to, out), true),
  (f, out) => (f.from && addressClause(1, f.from, out), true),
  (f, out) => {
    if (!f.subject) return true;
    // from the index of subject_lc (migration 003), not the rows: the column sits after raw
    out.sql.push("m.seq IN (SELECT rowid FROM messages WHERE instr(subject_lc, ?) > 0)");
    out.params.push(f.subject.toLowerCase());
    return true;
  },
  (f, out) => {
    if (!f.q) return true;
    const q = ftsQuery(f.q);
    if (!q) return false;
    out.sql.push("m.seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)");
    out.params.push(q);
    return true;
  },
  (f, out) => {
    if (f.since?.id) {
      out.sql.push("m.id > ?");
      out.params.push(f.since.id.toUpperCase());
    }
    if (f.since?.timeMs !== undefined) {
      out.sql.push("m.received_at >= ?");
      out.params.push(f.since.timeMs);
    }
    return true;
  },
  (f, out) => {
    if (!f.until) return true;
    out.sql.push("m.id <= ?");
    out.params.push(f.until);
    return true;
  },
  (f, out) => {
    if (!f.search) return true;
    out.sql.push(`(${f.search.sql})`);
    out.params.push(...f.search.params);
    return true;
  },
];

/** WHERE clauses and parameters for a filter; null when the filter can match nothing. */
export function whereOf(filter: StoreFilter): Clauses | null {
  const out: Clauses = { sql: [], params: [] };
  for (const build of CLAUSE_BUILDERS) if (!build(filter, out)) return null;
  return out;
}

/** " WHERE a AND b", or "" for no clause. */
export function whereSql(clauses: readonly string[]): string {
  return clauses.length ? " WHERE " + clauses.join(" AND ") : "";
}

/**
 * Stream replay: ids after a cursor whose recipients match any of the `to`
 * patterns. The patterns travel as two JSON arrays (addresses, domain ranges),
 * so one statement serves every subscriber whatever its patterns: a statement
 * per mix of patterns was cached forever (+360 MiB over 8,000 subscriptions).
 * CROSS JOIN keeps the patterns as the outer loop (one index probe each); `a.seq > ?` lets the (kind, address, seq) index skip what was already sent.
 */
export const REPLAY_IDS_SQL = `SELECT m.seq, m.id FROM messages m WHERE m.seq > ? AND m.id > ? AND m.seq IN (
    SELECT a.seq FROM json_each(?) p CROSS JOIN addresses a ON a.kind = 0 AND a.address = p.value AND a.seq > ?
    UNION ALL
    SELECT a.seq FROM json_each(?) r CROSS JOIN addresses a
      ON a.kind = 0 AND a.rdomain >= r.value ->> 0 AND a.rdomain < r.value ->> 1)
  ORDER BY m.seq ASC LIMIT ?`;
export const REPLAY_ALL_IDS_SQL =
  "SELECT m.seq, m.id FROM messages m WHERE m.seq > ? AND m.id > ? ORDER BY m.seq ASC LIMIT ?";

/** Parameters of REPLAY_IDS_SQL (without the limit) for the subscriber's patterns. */
export function replayPatternParams(patterns: readonly string[]): { addresses: string; ranges: string } {
  const lower = patterns.map((p) => p.trim().toLowerCase());
  return {
    addresses: JSON.stringify(lower.filter((p) => !p.startsWith("@"))),
    ranges: JSON.stringify(lower.filter((p) => p.startsWith("@")).map(domainRange)),
  };
}
