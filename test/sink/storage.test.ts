// The store on real SQLite files: schema migrations of an existing database,
// the full-text index that is filled behind ingestion, and group commits that
// find the database busy.
import Database from "better-sqlite3";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, test } from "vitest";
import { waitUntil } from "../helpers/poll.js";
import { parseMessage } from "../../sink/parse/parse.js";
import { openDatabase } from "../../sink/storage/db.js";
import { GroupCommitter } from "../../sink/storage/committer.js";
import { FTS_BODY_CHARS, FTS_QUEUE_MAX_CHARS } from "../../sink/storage/fts.js";
import { MessageStore, type Incoming } from "../../sink/storage/store.js";

const MIGRATION_001 = fileURLToPath(new URL("../../sink/storage/migrations/001_init.sql", import.meta.url));

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), "tun-store-test-"));
  dirs.push(dir);
  return join(dir, "sink.db");
}

function incoming(raw: Buffer): Incoming {
  return {
    raw,
    envelope: { from: "app@shop.test", to: ["qa@store.test"] },
    remoteIp: "127.0.0.1",
    heloName: "test",
    tls: false,
    authUser: null,
    receivedAt: Date.now(),
  };
}

async function store(s: MessageStore, raw: string): Promise<string> {
  const bytes = Buffer.from(raw);
  return s.insertBatch([{ incoming: incoming(bytes), parsed: await parseMessage(bytes) }])[0]!.id;
}

describe("storage", () => {
  test("a database made by schema 001 keeps every message and its raw bytes, and q= finds them after the FTS rebuild", () => {
    // a store as the first schema wrote it: full-text rows with their own copy of the text
    const path = tempDb();
    const old = new Database(path);
    old.pragma("journal_mode = WAL");
    old.exec(readFileSync(MIGRATION_001, "utf8"));
    old.pragma("user_version = 1");
    const insert = old.prepare(
      `INSERT INTO messages (id, received_at, envelope_from, envelope_to, remote_ip, helo_name, tls, auth_user, size, raw,
         from_json, to_json, cc_json, subject, subject_lc, snippet, message_id, date, headers_json, text, html, attachments_json)
       VALUES (?, ?, 'app@shop.test', '["qa@store.test"]', '127.0.0.1', 'test', 0, NULL, ?, ?,
         NULL, '[]', '[]', ?, ?, '', NULL, NULL, '[]', ?, NULL, '[]')`,
    );
    const fts = old.prepare(
      "INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (?, ?, '', ?)",
    );
    const raws = new Map<string, Buffer>();
    const count = 300;
    old.transaction(() => {
      for (let i = 0; i < count; i++) {
        const id = `01JD${String(i).padStart(22, "0")}`;
        // bytes that are not valid UTF-8 must survive the migration unchanged
        const raw = Buffer.concat([
          Buffer.from(`Subject: old ${i}\r\n\r\nword${i} zanzibar\r\n`),
          Buffer.from([0xff, i % 256]),
        ]);
        raws.set(id, raw);
        const seq = insert.run(
          id,
          1_700_000_000_000 + i,
          raw.length,
          raw,
          `old ${i}`,
          `old ${i}`,
          `word${i} zanzibar`,
        ).lastInsertRowid;
        fts.run(seq, `old ${i}`, `word${i} zanzibar`);
      }
    })();
    old.close();

    const db = openDatabase(path);
    expect(db.pragma("user_version", { simple: true })).toBe(3);
    const ftsSql = (
      db.prepare("SELECT sql FROM sqlite_master WHERE name = 'messages_fts'").get() as { sql: string }
    ).sql;
    expect(ftsSql).toContain("contentless_delete");
    const s = new MessageStore(db);
    try {
      // startup does not rebuild the index before it returns (a big store would keep the sink from starting)
      expect(
        (db.prepare("SELECT COALESCE(MAX(rowid), 0) AS n FROM messages_fts").get() as { n: number }).n,
      ).toBe(0);
      expect(s.messageCount).toBe(count);
      for (const [id, raw] of raws) expect(s.raw(id)?.equals(raw)).toBe(true);
      // migration 003: mail stored before read state existed is unread
      expect(s.list({}, 1000, null).messages.every((m) => m.read === false)).toBe(true);
      // a q= query catches the index up first, so it misses nothing
      expect(s.list({ q: "zanzibar" }, 1000, null).total).toBe(count);
      expect(s.list({ q: "word123" }, 10, null).messages.map((m) => m.subject)).toEqual(["old 123"]);
      expect(s.list({ q: "old zanzi" }, 10, null).total).toBe(count);
    } finally {
      s.close();
    }
  });

  test("q= finds a message stored under the seq of a deleted newest message, and not the deleted one", async () => {
    const db = openDatabase(tempDb());
    const s = new MessageStore(db);
    try {
      await store(s, "Subject: first\r\n\r\nkeepme\r\n");
      const gone = await store(s, "Subject: second\r\n\r\nvanished\r\n");
      expect(s.list({ q: "vanished" }, 10, null).total).toBe(1); // indexed
      expect(s.deleteById(gone)).toBe(true);
      // SQLite hands the deleted newest seq out again
      const next = await store(s, "Subject: third\r\n\r\nreturning\r\n");
      expect(s.list({ q: "returning" }, 10, null).messages.map((m) => m.id)).toEqual([next]);
      expect(s.list({ q: "vanished" }, 10, null).total).toBe(0);
      expect(s.list({ q: "keepme" }, 10, null).total).toBe(1);
    } finally {
      s.close();
    }
  });

  test("messages indexed from memory: one deleted before indexing is not found, nor are its words under a reused seq", async () => {
    const s = new MessageStore(openDatabase(tempDb()));
    try {
      await store(s, "Subject: a\r\n\r\nalpha\r\n");
      expect(s.list({ q: "alpha" }, 10, null).total).toBe(1); // caught up: what follows is indexed from memory
      await store(s, "Subject: b\r\n\r\nbravo\r\n");
      const c = await store(s, "Subject: c\r\n\r\ncharlie\r\n");
      await store(s, "Subject: d\r\n\r\ndelta\r\n");
      expect(s.deleteById(c)).toBe(true); // queued, not indexed yet
      expect(s.list({ q: "charlie" }, 10, null).total).toBe(0);
      expect(s.list({ q: "bravo" }, 10, null).total).toBe(1);
      expect(s.list({ q: "delta" }, 10, null).total).toBe(1);

      const f = await store(s, "Subject: f\r\n\r\nfoxtrot\r\n");
      expect(s.deleteById(f)).toBe(true); // the newest, still queued: its seq comes again
      const g = await store(s, "Subject: g\r\n\r\ngolf\r\n");
      expect(s.list({ q: "golf" }, 10, null).messages.map((m) => m.id)).toEqual([g]);
      expect(s.list({ q: "foxtrot" }, 10, null).total).toBe(0);

      const h = await store(s, "Subject: h\r\n\r\nhotel\r\n");
      expect(s.deleteById(h)).toBe(true); // the newest, queued; the indexer runs before its seq comes again
      expect(s.list({ q: "golf" }, 10, null).total).toBe(1);
      const i = await store(s, "Subject: i\r\n\r\nindia\r\n");
      expect(s.list({ q: "india" }, 10, null).messages.map((m) => m.id)).toEqual([i]);
      expect(s.list({ q: "hotel" }, 10, null).total).toBe(0);
      expect(s.list({ q: "shop" }, 10, null).total).toBe(5); // a, b, d, g, i: the envelope sender is indexed too
    } finally {
      s.close();
    }
  });

  test("a backlog beyond what the indexer holds in memory is read back from the table; q= still finds all", async () => {
    const s = new MessageStore(openDatabase(tempDb()));
    try {
      await store(s, "Subject: first\r\n\r\nx\r\n");
      s.list({ q: "first" }, 10, null); // caught up
      const big = "lorem ".repeat(Math.ceil(FTS_BODY_CHARS / 6) + 100);
      // more indexed body characters than FTS_QUEUE_MAX_CHARS (each message adds FTS_BODY_CHARS)
      const count = Math.ceil(FTS_QUEUE_MAX_CHARS / FTS_BODY_CHARS) + 2;
      for (let i = 0; i < count; i++) await store(s, `Subject: big ${i}\r\n\r\nbig${i} ${big}\r\n`);
      expect(s.list({ q: "lorem" }, 100, null).total).toBe(count);
      expect(s.list({ q: `big${count - 1}` }, 10, null).messages.map((m) => m.subject)).toEqual([
        `big ${count - 1}`,
      ]);
    } finally {
      s.close();
    }
  });

  test("held waits hear of a commit in its own turn, right after the callers' replies; the stream on the next turn", async () => {
    const s = new MessageStore(openDatabase(tempDb()));
    try {
      const events: string[] = [];
      const committer = new GroupCommitter(
        s,
        () => events.push("next turn"),
        () => events.push("same turn"),
      );
      const raw = Buffer.from("Subject: x\r\n\r\ny\r\n");
      const parsed = await parseMessage(raw);
      // in the sink the 250 is written a few promise reactions after the commit (ingest -> await in onData)
      void committer
        .add(incoming(raw), parsed)
        .then((m) => m)
        .then((m) => m)
        .then(() => events.push("250"));
      // the commit runs on this turn's check phase (an idle sink commits at once); this runs right after it
      setImmediate(() => events.push("after the commit's turn"));
      await waitUntil("every event", () => events.length === 4);
      expect(events).toEqual(["250", "same turn", "after the commit's turn", "next turn"]);
    } finally {
      s.close();
    }
  });
});

describe("group commit on a busy database", () => {
  /** A store whose write lock another connection can take; SQLite then answers SQLITE_BUSY. */
  function lockable(busyRetryDeadlineMs?: number) {
    const path = tempDb();
    const db = openDatabase(path);
    db.pragma("busy_timeout = 0"); // no busy handler: SQLITE_BUSY at once, as seen under load in the bench
    const s = new MessageStore(db);
    const other = new Database(path);
    const retries: string[] = [];
    const committer = new GroupCommitter(
      s,
      () => {},
      () => {},
      { onBusyRetry: (err) => retries.push(err.message), busyRetryDeadlineMs },
    );
    const close = (): void => {
      if (other.inTransaction) other.exec("ROLLBACK");
      other.close();
      s.close();
    };
    return { s, other, retries, committer, close };
  }

  async function add(committer: GroupCommitter, subject: string) {
    const raw = Buffer.from(
      `From: app@shop.test\r\nTo: qa@store.test\r\nSubject: ${subject}\r\n\r\nhello\r\n`,
    );
    return committer.add(incoming(raw), await parseMessage(raw));
  }

  test("a commit refused as busy is retried once the lock is free, and the message is stored", async () => {
    const { s, other, retries, committer, close } = lockable();
    try {
      other.exec("BEGIN IMMEDIATE");
      const stored = add(committer, "held up");
      let settled = false;
      void stored.then(
        () => (settled = true),
        () => (settled = true),
      );
      await waitUntil("a busy retry", () => retries.length > 0, 5_000);
      expect(retries[0]).toMatch(/locked|busy/i);
      expect(settled).toBe(false);
      other.exec("COMMIT");
      expect((await stored).subject).toBe("held up");
      expect(s.messageCount).toBe(1);
      expect(retries).toHaveLength(1); // told once per batch, not per attempt
      await committer.drain();
    } finally {
      close();
    }
  });

  test("a lock held past the deadline fails the batch, and drain() waits for it", async () => {
    const { s, other, committer, close } = lockable(200);
    try {
      other.exec("BEGIN IMMEDIATE");
      const stored = add(committer, "never");
      const drained = committer.drain();
      await expect(stored).rejects.toThrow(/could not store the message: database is locked/);
      await drained;
      other.exec("ROLLBACK");
      expect(s.messageCount).toBe(0);
    } finally {
      close();
    }
  });
});
