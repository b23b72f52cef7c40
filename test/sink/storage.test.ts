// The store on real SQLite files: schema migrations of an existing database and
// the full-text index that is filled behind ingestion.
import Database from "better-sqlite3";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, test } from "vitest";
import { parseMessage } from "../../sink/parse/parse.js";
import { openDatabase } from "../../sink/storage/db.js";
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
    expect(db.pragma("user_version", { simple: true })).toBe(2);
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
});
