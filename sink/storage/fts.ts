// The full-text index (q=) is filled behind ingestion, in batches: indexing
// each message inside its own commit made FTS5 write and merge its segments
// for every small transaction, which was most of the storage cost per message.
// A q= query first brings the index up to date, so it never misses a stored
// message. At startup whatever the index has not reached (after a crash, or
// the whole store after migration 002 rebuilt the index) is indexed in the
// background, one batch per turn, so a big store never delays startup.
import type { Statement } from "better-sqlite3";
import type { Address } from "../../protocol/wire.js";
import type { Db } from "./db.js";

/** Characters of the text body put into the full-text index. */
export const FTS_BODY_CHARS = 64 * 1024;
/** How long after a commit the indexer runs, collecting what arrives meanwhile. */
export const FTS_INDEX_DELAY_MS = 200;
/** Messages indexed per transaction: one event-loop turn, about 15 ms for 10 KB messages here. */
export const FTS_INDEX_BATCH = 100;
/**
 * Body characters held in memory for indexing. Beyond it the held documents
 * are dropped and the indexer reads from the table again until it has caught
 * up (a backlog must not grow the heap).
 */
export const FTS_QUEUE_MAX_CHARS = 8 * 1024 * 1024;

/** What the index holds for one message. */
export interface FtsDocument {
  seq: number;
  subject: string;
  addresses: string;
  body: string;
}

interface PendingRow {
  seq: number;
  subject: string;
  envelope_from: string;
  envelope_to: string;
  from_json: string | null;
  to_json: string;
  cc_json: string;
  text: string | null;
}

/** The addresses column: names and addresses of From/To/Cc, then the envelope. */
export function ftsAddresses(
  headerAddresses: readonly Address[],
  envelopeTo: readonly string[],
  envelopeFrom: string,
): string {
  return headerAddresses
    .map((a) => `${a.name} ${a.address}`)
    .concat(envelopeTo, envelopeFrom)
    .join(" ");
}

/**
 * The indexed prefix of a body, as a string of its own: a slice of a longer
 * string keeps all of it alive in V8 while the document waits in the queue.
 */
export function ftsBody(text: string | null): string {
  if (!text) return "";
  if (text.length <= FTS_BODY_CHARS) return text;
  return Buffer.from(text.slice(0, FTS_BODY_CHARS), "utf8").toString("utf8");
}

export class FtsIndexer {
  private indexedSeq: number;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private readonly pending: Statement<[number, number]>;
  private readonly existing: Statement<[number, number]>;
  private readonly insert: Statement<[number, string, string, string]>;
  /**
   * Committed documents not indexed yet, in seq order, when `queueComplete`:
   * then they are every stored message after indexedSeq, and indexing needs no
   * read of the table (which walked the overflow pages of `raw` to reach
   * `text`: ~2 MiB read per 1 MiB message). Otherwise (startup, a dropped
   * queue) rows are read from the table until the index has caught up.
   */
  private queue: FtsDocument[] = [];
  /** Readers waiting for the index to catch up (see caughtUp). */
  private waiting: (() => void)[] = [];
  private queueChars = 0;
  private queueComplete = false;

  constructor(
    private readonly db: Db,
    private readonly onError: (line: string) => void,
  ) {
    this.indexedSeq = (
      db.prepare("SELECT COALESCE(MAX(rowid), 0) AS n FROM messages_fts").get() as { n: number }
    ).n;
    // Only the indexed prefix of the body leaves SQLite: reading the whole
    // text column made a 1 MiB JavaScript string per large message (C profile:
    // indexBatch ~2.7 ms per 1 MiB message) only to cut it to FTS_BODY_CHARS.
    this.pending = db.prepare(
      `SELECT seq, subject, envelope_from, envelope_to, from_json, to_json, cc_json, substr(text, 1, ${FTS_BODY_CHARS}) AS text
       FROM messages WHERE seq > ? ORDER BY seq LIMIT ?`,
    );
    // a rowid range: reads no overflow pages
    this.existing = db.prepare("SELECT seq FROM messages WHERE seq >= ? AND seq <= ?");
    this.insert = db.prepare(
      "INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (?, ?, ?, ?)",
    );
  }

  /**
   * Documents of a committed transaction, in seq order. SQLite gives a new row
   * max(rowid) + 1, so after the newest message was deleted its seq comes
   * again: a seq at or below one already indexed or queued sends the indexer
   * back to the table from there.
   */
  enqueue(docs: readonly FtsDocument[]): void {
    if (!docs.length) return;
    const first = docs[0]!.seq;
    if (first <= (this.queue.at(-1)?.seq ?? this.indexedSeq)) {
      this.indexedSeq = Math.min(this.indexedSeq, first - 1);
      this.dropQueue();
    }
    if (!this.queueComplete) return;
    for (const d of docs) {
      this.queue.push(d);
      this.queueChars += d.body.length;
    }
    if (this.queueChars > FTS_QUEUE_MAX_CHARS) this.dropQueue();
  }

  private dropQueue(): void {
    this.queue = [];
    this.queueChars = 0;
    this.queueComplete = false;
  }

  /** After a commit: index soon, together with whatever else arrives until then. */
  schedule(): void {
    if (this.timer || this.immediate) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.step();
    }, FTS_INDEX_DELAY_MS);
    this.timer.unref();
  }

  /** One batch per turn until caught up, so a backlog never holds the loop for long. */
  private step(): void {
    this.immediate = null;
    let indexed: number;
    try {
      indexed = this.indexBatch(FTS_INDEX_BATCH);
    } catch (err) {
      // a busy or failing database must not take the sink down; the rows stay pending
      this.onError(`full-text indexing failed, retrying: ${(err as Error).message}`);
      this.schedule();
      return;
    }
    if (indexed > 0) this.immediate = setImmediate(() => this.step());
    else for (const resolve of this.waiting.splice(0)) resolve();
  }

  /**
   * Resolves once everything stored so far is indexed, for a q= read that runs
   * off the main thread. One batch is indexed at once (the usual case: the few
   * messages of the last 200 ms); a longer backlog (startup, a rebuild) goes on
   * one batch per turn, so the SMTP thread is never held for the whole of it.
   */
  caughtUp(): Promise<void> {
    if (this.indexBatch(FTS_INDEX_BATCH) === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.immediate ??= setImmediate(() => this.step());
    });
  }

  /** Indexes everything stored so far (before a q= query). */
  catchUp(): void {
    while (this.indexBatch(FTS_INDEX_BATCH) > 0);
  }

  /** Indexes up to `limit` messages in one transaction; 0 once there is nothing left. */
  private indexBatch(limit: number): number {
    const docs = this.queueComplete ? this.fromQueue(limit) : this.fromTable(limit);
    if (!docs.length) {
      // everything stored is indexed: from now on the queue holds all that follows
      this.queueComplete = true;
      return 0;
    }
    this.db
      .transaction(() => {
        for (const d of docs) this.insert.run(d.seq, d.subject, d.addresses, d.body);
      })
      .immediate();
    this.indexedSeq = docs[docs.length - 1]!.seq;
    if (this.queueComplete) {
      const taken = this.queue.splice(0, docs.length);
      for (const d of taken) this.queueChars -= d.body.length;
    }
    return docs.length;
  }

  /** The next queued documents whose messages still exist (one may have been deleted meanwhile). */
  private fromQueue(limit: number): FtsDocument[] {
    const head = this.queue.slice(0, limit);
    if (!head.length) return [];
    const alive = new Set(
      (this.existing.all(head[0]!.seq, head[head.length - 1]!.seq) as { seq: number }[]).map((r) => r.seq),
    );
    if (alive.size === head.length) return head;
    // deleted ones are dropped from the queue here; what is left is indexed by the caller
    this.queue = this.queue.filter((d, i) => i >= head.length || alive.has(d.seq));
    this.queueChars = this.queue.reduce((n, d) => n + d.body.length, 0);
    const kept = head.filter((d) => alive.has(d.seq));
    if (!kept.length && this.queue.length) return this.fromQueue(limit);
    return kept;
  }

  private fromTable(limit: number): FtsDocument[] {
    const rows = this.pending.all(this.indexedSeq, limit) as PendingRow[];
    return rows.map((r) => ({
      seq: r.seq,
      subject: r.subject,
      addresses: ftsAddresses(
        [
          ...(r.from_json ? [JSON.parse(r.from_json) as Address] : []),
          ...(JSON.parse(r.to_json) as Address[]),
          ...(JSON.parse(r.cc_json) as Address[]),
        ],
        JSON.parse(r.envelope_to) as string[],
        r.envelope_from,
      ),
      body: r.text ?? "",
    }));
  }

  close(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }
}
