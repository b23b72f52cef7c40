// The message store: every read and write of the messages table goes through
// here, with prepared statements. Synchronous (better-sqlite3), so a read and
// the registration of a live listener can happen in one tick with nothing
// committed in between; the stream and wait rely on that.
import { randomBytes } from "node:crypto";
import { incrementBase32, monotonicFactory } from "ulid";
import type { Envelope, Message, Summary } from "../../protocol/wire.js";
import type { ParsedFields } from "../parse/parse.js";
import type { Db } from "./db.js";
import { reversedDomain, whereOf } from "./filter-sql.js";
import { ftsAddresses, ftsBody, FtsIndexer, type FtsDocument } from "./fts.js";
import {
  listPage,
  matchingIds,
  newestId,
  runRead,
  type IdRow,
  type ListPage,
  type ReadRequest,
  type ReadResults,
} from "./reads.js";
import { ReadAbandoned, Reader, READ_TIMEOUT_MS } from "./reader.js";
import { MESSAGE_COLUMNS, rowToMessage, type Row } from "./rows.js";
import { StatementCache } from "./statements.js";

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

function domainOf(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? "" : address.slice(at + 1);
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

/** True when the filter reads the full-text index (q=, or a search= with words), which is caught up first. */
function needsFullText(filter: StoreFilter): boolean {
  return Boolean(filter.q || filter.search?.fullText);
}

export class MessageStore {
  private readonly db: Db;
  private readonly newId = monotonicFactory(pooledRandom());
  private count: number;
  private newestId: string | null;
  /** Last id handed out, committed or not: ids only ever grow, also across restarts. */
  private lastIssued: string | null;
  private readonly statements: StatementCache;
  /** Heavy reads, off the main thread when a worker is available. */
  readonly reader: Reader;
  private readonly insertMessage;
  private readonly insertAddress;
  private readonly fts: FtsIndexer;

  constructor(db: Db, onError: (line: string) => void = () => {}) {
    this.db = db;
    this.statements = new StatementCache(db);
    this.reader = new Reader(db.name, (req) => this.runInPlace(req), onError);
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

  private prepared(sql: string) {
    return this.statements.get(sql);
  }

  /** A read on the main connection, with the full-text index caught up first when it uses q=. */
  private runInPlace(req: ReadRequest): unknown {
    if ("filter" in req && needsFullText(req.filter)) this.fts.catchUp();
    return runRead(this.statements, req);
  }

  /**
   * Runs a heavy read in the reader worker; rejects with ReadAbandoned after `timeoutMs`
   * (READ_TIMEOUT_MS, or what is left of the budget a bulk request shares across its reads:
   * matching.ts). The worker's snapshot starts after this call: everything committed before it
   * is seen. A q= read first waits for the full-text index to reach every stored message.
   */
  async read<K extends ReadRequest["kind"]>(
    req: Extract<ReadRequest, { kind: K }>,
    timeoutMs: number = READ_TIMEOUT_MS,
  ): Promise<ReadResults[K]> {
    if (this.reader.threads && "filter" in req && needsFullText(req.filter)) {
      const start = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new ReadAbandoned("the full-text index is still being built; try again shortly")),
          timeoutMs,
        );
      });
      await Promise.race([this.fts.caughtUp(), deadline]).finally(() => clearTimeout(timer));
      timeoutMs -= Date.now() - start;
    }
    return this.reader.run(req, timeoutMs);
  }

  /** The ids of the rows with these seqs that still exist (an index lookup on the main connection). */
  rowsOf(seqs: readonly number[]): IdRow[] {
    if (!seqs.length) return [];
    return this.prepared(
      "SELECT seq, id FROM messages WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq",
    ).all(JSON.stringify(seqs)) as IdRow[];
  }

  /** A page of summaries, on the main connection (tests; the API goes through read()). */
  list(filter: StoreFilter, limit: number, cursor: string | null): ListPage {
    if (needsFullText(filter)) this.fts.catchUp();
    return listPage(this.statements, filter, limit, cursor, this.count);
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

  /** The newest message matching the filter, on the main connection. */
  newest(filter: StoreFilter): Message | null {
    const id = newestId(this.statements, filter);
    return id ? this.get(id) : null;
  }

  /** Ids matching a filter, oldest first, after row `afterSeq`, at most `limit`, on the main connection. */
  matchingIds(filter: StoreFilter, limit: number, afterSeq = 0): IdRow[] {
    if (needsFullText(filter)) this.fts.catchUp();
    return matchingIds(this.statements, filter, limit, afterSeq);
  }

  /** Which of these (just committed) ids match the filter: for held waits with a search=. */
  idsAmong(ids: readonly string[], filter: StoreFilter): Set<string> {
    const w = whereOf(filter);
    if (!w || !ids.length) return new Set();
    if (needsFullText(filter)) this.fts.catchUp();
    const rows = this.prepared(
      `SELECT m.id FROM messages m WHERE ${["m.id IN (SELECT value FROM json_each(?))", ...w.sql].join(" AND ")}`,
    ).all(JSON.stringify(ids), ...w.params) as { id: string }[];
    return new Set(rows.map((r) => r.id));
  }

  /** The row of one id, or null when there is no such message. */
  rowOf(id: string): IdRow | null {
    return (
      (this.prepared("SELECT seq, id FROM messages WHERE id = ?").get(id.toUpperCase()) as
        IdRow | undefined) ?? null
    );
  }

  /** Sets the read state of the given rows in one statement; returns the ids whose state changed. */
  setRead(rows: readonly IdRow[], read: boolean): string[] {
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
  deleteRows(rows: readonly { seq: number }[]): string[] {
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
    void this.reader.close();
    // no catch-up here: a stop must not wait for a backlog (the next start indexes it)
    this.fts.close();
    this.db.close();
  }

  /** The database file (its WAL is this plus "-wal"), for the pruner to pace itself by the WAL's size. */
  get path(): string {
    return this.db.name;
  }
}
