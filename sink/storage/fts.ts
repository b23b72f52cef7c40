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

export class FtsIndexer {
  private indexedSeq: number;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private readonly pending: Statement<[number, number]>;
  private readonly insert: Statement<[number, string, string, string]>;

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
    this.insert = db.prepare(
      "INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (?, ?, ?, ?)",
    );
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

  /**
   * A message was stored under `seq`. SQLite hands out max(rowid) + 1, so after
   * the newest message was deleted its seq comes again: index from there.
   */
  noteInserted(seq: number): void {
    if (seq <= this.indexedSeq) this.indexedSeq = seq - 1;
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
    if (indexed === FTS_INDEX_BATCH) this.immediate = setImmediate(() => this.step());
  }

  /** Indexes everything stored so far (before a q= query). */
  catchUp(): void {
    while (this.indexBatch(FTS_INDEX_BATCH) === FTS_INDEX_BATCH);
  }

  private indexBatch(limit: number): number {
    const rows = this.pending.all(this.indexedSeq, limit) as PendingRow[];
    if (!rows.length) return 0;
    this.db
      .transaction(() => {
        for (const r of rows) {
          const addresses = [
            ...(r.from_json ? [JSON.parse(r.from_json) as Address] : []),
            ...(JSON.parse(r.to_json) as Address[]),
            ...(JSON.parse(r.cc_json) as Address[]),
          ]
            .map((a) => `${a.name} ${a.address}`)
            .concat(JSON.parse(r.envelope_to) as string[], r.envelope_from)
            .join(" ");
          this.insert.run(r.seq, r.subject, addresses, r.text ?? "");
        }
      })
      .immediate();
    this.indexedSeq = rows[rows.length - 1]!.seq;
    return rows.length;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }
}
