// The heavy reads (filtered lists and counts, ids for a bulk delete, the
// newest match for wait, replay ids for the stream) as plain functions of a
// connection's statement cache. The reader worker runs them on its own
// connection; without a worker the store runs them on the main connection.
import type { Summary } from "../../protocol/wire.js";
import { REPLAY_ALL_IDS_SQL, REPLAY_IDS_SQL, replayPatternParams, whereOf, whereSql } from "./filter-sql.js";
import { rowToSummary, SUMMARY_COLUMNS, type Row } from "./rows.js";
import type { StatementCache } from "./statements.js";
import type { StoreFilter } from "./store.js";

export interface IdRow {
  seq: number;
  id: string;
}

export interface ListPage {
  messages: Summary[];
  total: number;
  nextCursor: string | null;
}

/** One read, as it travels to the reader worker. */
export type ReadRequest =
  | { kind: "list"; filter: StoreFilter; limit: number; cursor: string | null; knownTotal: number }
  | { kind: "ids"; filter: StoreFilter; limit: number; afterSeq?: number }
  | { kind: "newestId"; filter: StoreFilter }
  | { kind: "replayIds"; afterId: string; patterns: string[]; limit: number };

export interface ReadResults {
  list: ListPage;
  ids: IdRow[];
  newestId: string | null;
  replayIds: IdRow[];
}

/** A page of summaries, newest first; knownTotal is the total when the filter is empty (the kept count). */
export function listPage(
  cache: StatementCache,
  filter: StoreFilter,
  limit: number,
  cursor: string | null,
  knownTotal: number,
): ListPage {
  const w = whereOf(filter);
  if (!w) return { messages: [], total: 0, nextCursor: null };
  const total = w.sql.length
    ? (cache.get(`SELECT COUNT(*) AS n FROM messages m${whereSql(w.sql)}`).get(...w.params) as { n: number })
        .n
    : knownTotal; // no filter: without scanning the table
  const pageSql = [...w.sql, ...(cursor ? ["m.id < ?"] : [])];
  const pageParams = [...w.params, ...(cursor ? [cursor.toUpperCase()] : [])];
  const rows = cache
    .get(`SELECT ${SUMMARY_COLUMNS} FROM messages m${whereSql(pageSql)} ORDER BY m.seq DESC LIMIT ?`)
    .all(...pageParams, limit + 1) as Row[];
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  return {
    messages: page.map(rowToSummary),
    total,
    nextCursor: more && page.length ? page[page.length - 1]!.id : null,
  };
}

/** Ids matching a filter, oldest first, after row `afterSeq` (a bulk PATCH's cursor), at most `limit`. */
export function matchingIds(
  cache: StatementCache,
  filter: StoreFilter,
  limit: number,
  afterSeq = 0,
): IdRow[] {
  const w = whereOf(filter);
  if (!w) return [];
  return cache
    .get(`SELECT m.seq, m.id FROM messages m${whereSql([...w.sql, "m.seq > ?"])} ORDER BY m.seq ASC LIMIT ?`)
    .all(...w.params, afterSeq, limit) as IdRow[];
}

/** The id of the newest message matching the filter. */
export function newestId(cache: StatementCache, filter: StoreFilter): string | null {
  const w = whereOf(filter);
  if (!w) return null;
  const row = cache
    .get(`SELECT m.id FROM messages m${whereSql(w.sql)} ORDER BY m.seq DESC LIMIT 1`)
    .get(...w.params) as { id: string } | undefined;
  return row?.id ?? null;
}

/** Ids after `afterId` (oldest first) whose recipients match any of the patterns (every message when none). */
export function replayIds(
  cache: StatementCache,
  afterId: string,
  patterns: readonly string[],
  limit: number,
): IdRow[] {
  const after = afterId.toUpperCase();
  // ids and seqs grow together, so the seq of the newest row at or before the cursor bounds the index ranges
  const afterSeq =
    (
      cache.get("SELECT seq FROM messages WHERE id <= ? ORDER BY id DESC LIMIT 1").get(after) as
        { seq: number } | undefined
    )?.seq ?? 0;
  if (!patterns.length) return cache.get(REPLAY_ALL_IDS_SQL).all(afterSeq, after, limit) as IdRow[];
  const p = replayPatternParams(patterns);
  return cache.get(REPLAY_IDS_SQL).all(afterSeq, after, p.addresses, afterSeq, p.ranges, limit) as IdRow[];
}

/** Runs one request (in the worker, or on the main connection when there is none). */
export function runRead(cache: StatementCache, req: ReadRequest): ReadResults[ReadRequest["kind"]] {
  switch (req.kind) {
    case "list":
      return listPage(cache, req.filter, req.limit, req.cursor, req.knownTotal);
    case "ids":
      return matchingIds(cache, req.filter, req.limit, req.afterSeq);
    case "newestId":
      return newestId(cache, req.filter);
    case "replayIds":
      return replayIds(cache, req.afterId, req.patterns, req.limit);
  }
}
