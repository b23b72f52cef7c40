// Bulk changes (DELETE and PATCH /api/v1/messages with a filter) find every
// match within one read budget before they change anything. Before, each page
// of matches had its own 2 s: a slow filter whose pages each took just under it
// deleted 2,000 messages in 5.5 s (seen in CI). A real SQLite store and the real
// paging; the one stand-in is the clock the budget is measured on, so "each
// page fits, all of them together do not" is exact rather than a race.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { openDatabase } from "../../sink/storage/db.js";
import { forEachMatching } from "../../sink/storage/matching.js";
import { READ_TIMEOUT_MS, ReadAbandoned } from "../../sink/storage/reader.js";
import { MessageStore } from "../../sink/storage/store.js";
import { fillStore } from "./store-fixture.js";

const STORED = 30;
const PAGE_ROWS = 10;

let dir: string;
let store: MessageStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tun-bulk-matching-"));
  const dbPath = join(dir, "sink.db");
  fillStore(dbPath, STORED, (i) => ({
    to: i % 3 === 0 ? "hit@bulk.test" : "miss@bulk.test",
    subject: `m${i}`,
    text: "x",
  }));
  store = new MessageStore(openDatabase(dbPath));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A clock that moves `stepMs` on every reading. */
function steppingClock(stepMs: number): () => number {
  let t = 0;
  return () => (t += stepMs);
}

describe("forEachMatching", () => {
  test("finds every match across pages, then applies them in batches, oldest first", async () => {
    const batches: number[][] = [];
    const matched = await forEachMatching(
      store,
      { to: "@bulk.test" },
      { batchRows: 7, pageRows: PAGE_ROWS, now: steppingClock(0) },
      (seqs) => batches.push(seqs),
    );
    expect(matched).toBe(STORED);
    expect(batches.map((b) => b.length)).toEqual([7, 7, 7, 7, 2]);
    const all = batches.flat();
    expect(all).toEqual([...all].sort((a, b) => a - b));
    expect(new Set(all).size).toBe(STORED);
  });

  test("runs out of its one budget between pages: abandoned with nothing applied", async () => {
    // three pages of ten; every reading of the clock is 40 % of the budget later, so the
    // first page is read in time and the second is not even asked for
    let applied = 0;
    const run = forEachMatching(
      store,
      { to: "@bulk.test" },
      { batchRows: 5, pageRows: PAGE_ROWS, now: steppingClock(READ_TIMEOUT_MS * 0.4) },
      () => applied++,
    );
    await expect(run).rejects.toBeInstanceOf(ReadAbandoned);
    await expect(run).rejects.toThrow(/nothing was changed/);
    expect(applied).toBe(0);
    expect(store.messageCount).toBe(STORED);
  });

  test("a read given a spent budget is refused at once, never started", async () => {
    const read = store.read({ kind: "ids", filter: { to: "@bulk.test" }, limit: 5 }, 0);
    await expect(read).rejects.toBeInstanceOf(ReadAbandoned);
    // the same read with time left answers
    expect(await store.read({ kind: "ids", filter: { to: "@bulk.test" }, limit: 5 }, 1_000)).toHaveLength(5);
  });

  test("a filter matching nothing applies nothing; an empty store reads nothing", async () => {
    const none = await forEachMatching(store, { to: "nobody@bulk.test" }, { batchRows: 5 }, () => {
      throw new Error("applied");
    });
    expect(none).toBe(0);
    const emptyDir = mkdtempSync(join(tmpdir(), "tun-bulk-empty-"));
    const empty = new MessageStore(openDatabase(join(emptyDir, "sink.db")));
    try {
      expect(await forEachMatching(empty, { to: "@bulk.test" }, { batchRows: 5 }, () => {})).toBe(0);
    } finally {
      empty.close();
      rmSync(emptyDir, { recursive: true, force: true });
    }
  });
});

describe("the store's bulk writes by seq", () => {
  test("rowsOf names the rows that still exist; deleteRows by seq returns the ids deleted", async () => {
    const seqs: number[] = [];
    await forEachMatching(store, { to: "hit@bulk.test" }, { batchRows: 100 }, (s) => seqs.push(...s));
    expect(seqs).toHaveLength(STORED / 3);
    const rows = store.rowsOf(seqs);
    expect(rows.map((r) => r.seq)).toEqual(seqs);
    const deleted = store.deleteRows(seqs.slice(0, 4).map((seq) => ({ seq })));
    expect(deleted).toEqual(rows.slice(0, 4).map((r) => r.id));
    expect(store.rowsOf(seqs).map((r) => r.seq)).toEqual(seqs.slice(4));
    expect(store.messageCount).toBe(STORED - 4);
  });
});
