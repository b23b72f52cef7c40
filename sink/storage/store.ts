// The message store: every read and write of the messages table goes through
// here, with prepared statements. Synchronous (better-sqlite3), so a read and
// the registration of a live listener can happen in one tick with nothing
// committed in between; the stream and wait rely on that.
import type { Statement } from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { incrementBase32, monotonicFactory } from "ulid";
import type { Address, AttachmentInfo, Envelope, Header, Message, Summary } from "../../protocol/wire.js";
import type { ParsedFields } from "../parse/parse.js";
import type { Db } from "./db.js";
import { ftsAddresses, ftsBody, FtsIndexer, type FtsDocument } from "./fts.js";

export const LIST_LIMIT_DEFAULT = 50;
export const LIST_LIMIT_MAX = 1000;

export interface Incoming {
  raw: Buffer;
  envelope: Envelope;
  remoteIp: string;
  heloName: string;
  tls: boolean;
  authUser: string | null;
  /** ms since epoch */
  receivedAt: number;
}

export interface Since {
  id?: string;
  timeMs?: number;
}

/** A condition on `messages m` with its bound parameters (what a `search=` compiles to, in sink/search). */
export interface SearchCondition {
  /** The search= text it came from, for log lines and timeout messages. */
  text: string;
  sql: string;
  params: unknown[];
  /** Uses messages_fts: the index is caught up before the query runs. */
  fullText: boolean;
}

/** A MessageFilter whose since= has been resolved into an id or a time. */
export interface StoreFilter {
  to?: string;
  from?: string;
  subject?: string;
  q?: string;
  since?: Since;
  /** Only messages with this id or older (bounds bulk deletes to what existed when they started). */
  until?: string;
  /** The compiled `search=`, ANDed with the fields above. */
  search?: SearchCondition;
}

interface Row {
  seq: number;
  id: string;
  received_at: number;
  envelope_from: string;
  envelope_to: string;
  remote_ip: string;
  helo_name: string;
  tls: number;
  auth_user: string | null;
  size: number;
  from_json: string | null;
  to_json: string;
  cc_json: string;
  subject: string;
  snippet: string;
  message_id: string | null;
  date: string | null;
  headers_json: string;
  text: string | null;
  html: string | null;
  attachments_json: string;
  read: number;
}

const SUMMARY_COLUMNS =
  "m.seq, m.id, m.received_at, m.envelope_from, m.envelope_to, m.remote_ip, m.helo_name, m.tls, m.auth_user, " +
  "m.size, m.from_json, m.to_json, m.cc_json, m.subject, m.snippet, m.attachments_json, " +
  "EXISTS (SELECT 1 FROM read_marks r WHERE r.seq = m.seq) AS read";
const MESSAGE_COLUMNS = SUMMARY_COLUMNS + ", m.message_id, m.date, m.headers_json, m.text, m.html";

/** Random bytes fetched from the OS at a time for message ids. */
const ID_RANDOM_POOL_BYTES = 4096;

/**
 * ulid's default PRNG asks the OS for one byte per character (16 calls per
 * id), which showed up in ingest profiles; draw from a refilled pool instead.
 */
function pooledRandom(): () => number {
  let pool = randomBytes(ID_RANDOM_POOL_BYTES);
  let i = 0;
  return () => {
    if (i >= pool.length) {
      pool = randomBytes(ID_RANDOM_POOL_BYTES);
      i = 0;
    }
    return pool[i++]! / 256;
  };
}

export const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/i;

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

/**
 * Messages with an address of this kind (0 = to/cc/rcpt, 1 = from/mail-from) matching an
 * address or `@domain` pattern. "seq IN (subquery)" lets SQLite drive the lookup from the
 * addresses index; an EXISTS per row would scan every message.
 */
export function addressCondition(kind: 0 | 1, pattern: string): { sql: string; params: unknown[] } {
  const p = pattern.trim().toLowerCase();
  if (p.startsWith("@")) {
    const prefix = reversedDomain(p.slice(1));
    return {
      sql: `m.seq IN (SELECT a.seq FROM addresses a WHERE a.kind = ${kind} AND a.rdomain >= ? AND a.rdomain < ?)`,
      params: [prefix, prefix.slice(0, -1) + "/"],
    };
  }
  return {
    sql: `m.seq IN (SELECT a.seq FROM addresses a WHERE a.kind = ${kind} AND a.address = ?)`,
    params: [p],
  };
}

function domainOf(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? "" : address.slice(at + 1);
}

function rowToSummary(r: Row): Summary {
  const attachments = JSON.parse(r.attachments_json) as AttachmentInfo[];
  return {
    id: r.id,
    receivedAt: new Date(r.received_at).toISOString(),
    envelope: { from: r.envelope_from, to: JSON.parse(r.envelope_to) as string[] },
    from: r.from_json ? (JSON.parse(r.from_json) as Address) : null,
    to: JSON.parse(r.to_json) as Address[],
    cc: JSON.parse(r.cc_json) as Address[],
    subject: r.subject,
    size: r.size,
    attachmentCount: attachments.length,
    snippet: r.snippet,
    remoteIp: r.remote_ip,
    tls: r.tls === 1,
    authUser: r.auth_user,
    read: r.read === 1,
  };
}

function rowToMessage(r: Row): Message {
  return {
    ...rowToSummary(r),
    messageId: r.message_id,
    date: r.date,
    heloName: r.helo_name,
    headers: JSON.parse(r.headers_json) as Header[],
    text: r.text,
    html: r.html,
    attachments: JSON.parse(r.attachments_json) as AttachmentInfo[],
  };
}

export function toSummary(m: Message): Summary {
  return {
    id: m.id,
    receivedAt: m.receivedAt,
    envelope: m.envelope,
    from: m.from,
    to: m.to,
    cc: m.cc,
    subject: m.subject,
    size: m.size,
    attachmentCount: m.attachmentCount,
    snippet: m.snippet,
    remoteIp: m.remoteIp,
    tls: m.tls,
    authUser: m.authUser,
    read: m.read,
  };
}

/** Turns q= into an FTS5 query: every word must appear, each as a prefix. */
function ftsQuery(q: string): string | null {
  const words = q.match(/[\p{L}\p{N}_]+/gu);
  if (!words) return null;
  return words.map((w) => `"${w}"*`).join(" AND ");
}

export class MessageStore {
  private readonly db: Db;
  private readonly newId = monotonicFactory(pooledRandom());
  private count: number;
  private newestId: string | null;
  /** Last id handed out, committed or not: ids only ever grow, also across restarts. */
  private lastIssued: string | null;
  private readonly statements = new Map<string, Statement<unknown[]>>();
  private readonly insertMessage;
  private readonly insertAddress;
  private readonly fts: FtsIndexer;

  constructor(db: Db, onError: (line: string) => void = () => {}) {
    this.db = db;
    this.count = (db.prepare("SELECT COUNT(*) AS n FROM messages").get() as { n: number }).n;
    this.newestId =
      (db.prepare("SELECT id FROM messages ORDER BY seq DESC LIMIT 1").get() as { id: string } | undefined)
        ?.id ?? null;
    this.lastIssued = this.newestId;
    this.insertMessage = db.prepare(
      `INSERT INTO messages (id, received_at, envelope_from, envelope_to, remote_ip, helo_name, tls, auth_user, size, raw,
         from_json, to_json, cc_json, subject, subject_lc, snippet, message_id, date, headers_json, text, html, attachments_json)
       VALUES (@id, @received_at, @envelope_from, @envelope_to, @remote_ip, @helo_name, @tls, @auth_user, @size, @raw,
         @from_json, @to_json, @cc_json, @subject, @subject_lc, @snippet, @message_id, @date, @headers_json, @text, @html, @attachments_json)`,
    );
    this.insertAddress = db.prepare(
      "INSERT INTO addresses (seq, kind, address, rdomain) VALUES (?, ?, ?, ?)",
    );
    this.fts = new FtsIndexer(db, onError);
    this.fts.schedule(); // whatever the index has not reached yet, in the background
  }

  get messageCount(): number {
    return this.count;
  }

  get lastId(): string | null {
    return this.newestId;
  }

  /**
   * Stores a batch in one transaction (group commit) and returns the stored messages, in order.
   * Write transactions here are BEGIN IMMEDIATE: they take the write lock up front, waiting through
   * busy_timeout. A deferred one that reads first can fail with SQLITE_BUSY at once when the
   * checkpoint thread restarts the WAL underneath it (seen with 1 MiB messages).
   */
  insertBatch(items: readonly { incoming: Incoming; parsed: ParsedFields }[]): Message[] {
    const out: Message[] = [];
    const docs: FtsDocument[] = [];
    this.db
      .transaction(() => {
        for (const { incoming, parsed } of items) out.push(this.insertOne(incoming, parsed, docs));
      })
      .immediate();
    this.fts.enqueue(docs); // only once committed
    this.count += out.length;
    if (out.length) this.newestId = out[out.length - 1]!.id;
    this.fts.schedule();
    return out;
  }

  private insertOne(inc: Incoming, p: ParsedFields, docs: FtsDocument[]): Message {
    const id = this.nextId(inc.receivedAt);
    const info = this.insertMessage.run({
      id,
      received_at: inc.receivedAt,
      envelope_from: inc.envelope.from,
      envelope_to: JSON.stringify(inc.envelope.to),
      remote_ip: inc.remoteIp,
      helo_name: inc.heloName,
      tls: inc.tls ? 1 : 0,
      auth_user: inc.authUser,
      size: inc.raw.length,
      raw: inc.raw,
      from_json: p.from ? JSON.stringify(p.from) : null,
      to_json: JSON.stringify(p.to),
      cc_json: JSON.stringify(p.cc),
      subject: p.subject,
      subject_lc: p.subject.toLowerCase(),
      snippet: p.snippet,
      message_id: p.messageId,
      date: p.date,
      headers_json: JSON.stringify(p.headers),
      text: p.text,
      html: p.html,
      attachments_json: JSON.stringify(p.attachments),
    });
    const seq = Number(info.lastInsertRowid);
    const seen = new Set<string>();
    const addAddress = (kind: 0 | 1, address: string): void => {
      const a = address.trim().toLowerCase();
      if (!a || seen.has(kind + a)) return;
      seen.add(kind + a);
      this.insertAddress.run(seq, kind, a, reversedDomain(domainOf(a)));
    };
    for (const a of inc.envelope.to) addAddress(0, a);
    for (const a of [...p.to, ...p.cc]) addAddress(0, a.address);
    addAddress(1, inc.envelope.from);
    if (p.from) addAddress(1, p.from.address);
    docs.push({
      seq,
      subject: p.subject,
      addresses: ftsAddresses(
        [...(p.from ? [p.from] : []), ...p.to, ...p.cc],
        inc.envelope.to,
        inc.envelope.from,
      ),
      body: ftsBody(p.text),
    });

    return {
      id,
      receivedAt: new Date(inc.receivedAt).toISOString(),
      envelope: { from: inc.envelope.from, to: [...inc.envelope.to] },
      from: p.from,
      to: p.to,
      cc: p.cc,
      subject: p.subject,
      size: inc.raw.length,
      attachmentCount: p.attachments.length,
      snippet: p.snippet,
      remoteIp: inc.remoteIp,
      tls: inc.tls,
      authUser: inc.authUser,
      read: false,
      messageId: p.messageId,
      date: p.date,
      heloName: inc.heloName,
      headers: p.headers,
      text: p.text,
      html: p.html,
      attachments: p.attachments,
    };
  }

  /**
   * ULIDs from a monotonic factory sort by arrival within this process; after a
   * restart with the clock behind the newest stored id, the next id is that
   * one plus one instead, so ids never go backwards.
   */
  private nextId(timeMs: number): string {
    let id = this.newId(timeMs);
    if (this.lastIssued && id <= this.lastIssued) {
      id = this.lastIssued.slice(0, 10) + incrementBase32(this.lastIssued.slice(10));
    }
    this.lastIssued = id;
    return id;
  }

  private prepared(sql: string): Statement<unknown[]> {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare<unknown[]>(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  /** WHERE clauses and parameters for a filter; null when the filter can match nothing. */
  private where(filter: StoreFilter): { sql: string[]; params: unknown[] } | null {
    const sql: string[] = [];
    const params: unknown[] = [];
    const addressClause = (kind: 0 | 1, pattern: string): void => {
      const c = addressCondition(kind, pattern);
      sql.push(c.sql);
      params.push(...c.params);
    };
    if (filter.to) addressClause(0, filter.to);
    if (filter.from) addressClause(1, filter.from);
    if (filter.subject) {
      // from the index of subject_lc (migration 003), not the rows: the column sits after raw
      sql.push("m.seq IN (SELECT rowid FROM messages WHERE instr(subject_lc, ?) > 0)");
      params.push(filter.subject.toLowerCase());
    }
    if (filter.q) {
      const q = ftsQuery(filter.q);
      if (!q) return null;
      this.fts.catchUp();
      sql.push("m.seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)");
      params.push(q);
    }
    if (filter.since?.id) {
      sql.push("m.id > ?");
      params.push(filter.since.id.toUpperCase());
    }
    if (filter.since?.timeMs !== undefined) {
      sql.push("m.received_at >= ?");
      params.push(filter.since.timeMs);
    }
    if (filter.until) {
      sql.push("m.id <= ?");
      params.push(filter.until);
    }
    if (filter.search) {
      if (filter.search.fullText) this.fts.catchUp();
      sql.push(`(${filter.search.sql})`);
      params.push(...filter.search.params);
    }
    return { sql, params };
  }

  list(
    filter: StoreFilter,
    limit: number,
    cursor: string | null,
  ): { messages: Summary[]; total: number; nextCursor: string | null } {
    const w = this.where(filter);
    if (!w) return { messages: [], total: 0, nextCursor: null };
    const base = w.sql.length ? " WHERE " + w.sql.join(" AND ") : "";
    const total = w.sql.length
      ? (this.prepared(`SELECT COUNT(*) AS n FROM messages m${base}`).get(...w.params) as { n: number }).n
      : this.count; // no filter: the kept count, without scanning the table
    const pageSql = [...w.sql, ...(cursor ? ["m.id < ?"] : [])];
    const pageParams = [...w.params, ...(cursor ? [cursor.toUpperCase()] : [])];
    const rows = this.prepared(
      `SELECT ${SUMMARY_COLUMNS} FROM messages m${pageSql.length ? " WHERE " + pageSql.join(" AND ") : ""} ORDER BY m.seq DESC LIMIT ?`,
    ).all(...pageParams, limit + 1) as Row[];
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    return {
      messages: page.map(rowToSummary),
      total,
      nextCursor: more && page.length ? page[page.length - 1]!.id : null,
    };
  }

  get(id: string): Message | null {
    const row = this.prepared(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id = ?`).get(
      id.toUpperCase(),
    ) as Row | undefined;
    return row ? rowToMessage(row) : null;
  }

  raw(id: string): Buffer | null {
    const row = this.prepared("SELECT raw FROM messages WHERE id = ?").get(id.toUpperCase()) as
      { raw: Buffer } | undefined;
    return row ? row.raw : null;
  }

  /** The newest message matching the filter (what `wait` returns when a match is already stored). */
  newest(filter: StoreFilter): Message | null {
    const w = this.where(filter);
    if (!w) return null;
    const row = this.prepared(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m${w.sql.length ? " WHERE " + w.sql.join(" AND ") : ""} ORDER BY m.seq DESC LIMIT 1`,
    ).get(...w.params) as Row | undefined;
    return row ? rowToMessage(row) : null;
  }

  /** Messages after `afterId` (oldest first) matching any of the `to` patterns (all when empty), for stream replay. */
  after(afterId: string, toPatterns: readonly string[], limit: number): Message[] {
    const clauses: string[] = [];
    const params: unknown[] = [];
    for (const pattern of toPatterns) {
      const w = this.where({ to: pattern })!;
      clauses.push(w.sql[0]!);
      params.push(...w.params);
    }
    const filter = clauses.length ? ` AND (${clauses.join(" OR ")})` : "";
    const rows = this.prepared(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id > ?${filter} ORDER BY m.seq ASC LIMIT ?`,
    ).all(afterId.toUpperCase(), ...params, limit) as Row[];
    return rows.map(rowToMessage);
  }

  /** Ids matching a filter, oldest first, after row `afterSeq`, at most `limit`. */
  matchingIds(filter: StoreFilter, limit: number, afterSeq = 0): { seq: number; id: string }[] {
    const w = this.where(filter);
    if (!w) return [];
    return this.prepared(
      `SELECT m.seq, m.id FROM messages m WHERE ${[...w.sql, "m.seq > ?"].join(" AND ")} ORDER BY m.seq ASC LIMIT ?`,
    ).all(...w.params, afterSeq, limit) as { seq: number; id: string }[];
  }

  /** Which of these (just committed) ids match the filter: for held waits with a search=. */
  idsAmong(ids: readonly string[], filter: StoreFilter): Set<string> {
    const w = this.where(filter);
    if (!w || !ids.length) return new Set();
    const rows = this.prepared(
      `SELECT m.id FROM messages m WHERE ${["m.id IN (SELECT value FROM json_each(?))", ...w.sql].join(" AND ")}`,
    ).all(JSON.stringify(ids), ...w.params) as { id: string }[];
    return new Set(rows.map((r) => r.id));
  }

  /** The row of one id, or null when there is no such message. */
  rowOf(id: string): { seq: number; id: string } | null {
    return (
      (this.prepared("SELECT seq, id FROM messages WHERE id = ?").get(id.toUpperCase()) as
        { seq: number; id: string } | undefined) ?? null
    );
  }

  /** Sets the read state of the given rows in one statement; returns the ids whose state changed. */
  setRead(rows: readonly { seq: number; id: string }[], read: boolean): string[] {
    if (!rows.length) return [];
    const sql = read
      ? "INSERT OR IGNORE INTO read_marks (seq) SELECT value FROM json_each(?) RETURNING seq"
      : "DELETE FROM read_marks WHERE seq IN (SELECT value FROM json_each(?)) RETURNING seq";
    const changed = new Set(
      (this.prepared(sql).all(JSON.stringify(rows.map((r) => r.seq))) as { seq: number }[]).map((r) => r.seq),
    );
    return rows.filter((r) => changed.has(r.seq)).map((r) => r.id);
  }

  /**
   * Deletes the given rows in one statement, atomic on its own; returns the ids actually deleted.
   * Not a loop inside an explicit transaction: there every statement gets a statement journal,
   * so each row's delete first copied the ~33 pages it touches (the row, the address indexes and
   * the full-text index, through messages_after_delete) to a temp file. A statement outside a
   * transaction needs none. Its lock is taken like BEGIN IMMEDIATE (read and write together).
   */
  deleteRows(rows: readonly { seq: number; id: string }[]): string[] {
    if (!rows.length) return [];
    const deleted = (
      this.prepared("DELETE FROM messages WHERE seq IN (SELECT value FROM json_each(?)) RETURNING id").all(
        JSON.stringify(rows.map((r) => r.seq)),
      ) as { id: string }[]
    ).map((r) => r.id);
    this.count -= deleted.length;
    if (deleted.length) this.refreshNewest();
    return deleted;
  }

  deleteById(id: string): boolean {
    const row = this.rowOf(id);
    return row ? this.deleteRows([row]).length === 1 : false;
  }

  /** The oldest rows beyond the count limit or older than the cutoff, at most `limit`. */
  pruneCandidates(
    maxMessages: number,
    cutoffMs: number | null,
    limit: number,
  ): { seq: number; id: string }[] {
    const excess = maxMessages > 0 ? Math.max(0, this.count - maxMessages) : 0;
    const byCount = excess
      ? (this.prepared("SELECT seq, id FROM messages ORDER BY seq ASC LIMIT ?").all(
          Math.min(excess, limit),
        ) as {
          seq: number;
          id: string;
        }[])
      : [];
    if (byCount.length >= limit || cutoffMs === null) return byCount;
    const byAge = this.prepared(
      "SELECT seq, id FROM messages WHERE received_at < ? ORDER BY received_at ASC LIMIT ?",
    ).all(cutoffMs, limit) as { seq: number; id: string }[];
    return byAge.length > byCount.length ? byAge : byCount;
  }

  private refreshNewest(): void {
    this.newestId =
      (this.prepared("SELECT id FROM messages ORDER BY seq DESC LIMIT 1").get() as { id: string } | undefined)
        ?.id ?? null;
  }

  close(): void {
    // no catch-up here: a stop must not wait for a backlog (the next start indexes it)
    this.fts.close();
    this.db.close();
  }

  /** The database file (its WAL is this plus "-wal"), for the pruner to pace itself by the WAL's size. */
  get path(): string {
    return this.db.name;
  }
}
