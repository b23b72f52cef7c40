// Pruning a backlog against a real SQLite file, with deletes made slow on
// purpose (a temporary trigger that costs each deleted row 1 ms of wall time),
// so the bounds below hold on any machine: at 1,000,000 stored messages each
// row cost ~0.2 ms, and fixed 500-row batches back to back held the event loop
// ~100 ms at a time (issue 7, scenario F).
import type Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import type { Message } from "../../protocol/wire.js";
import type { Logger } from "../../sink/log.js";
import type { ParsedFields } from "../../sink/parse/parse.js";
import { GroupCommitter } from "../../sink/storage/committer.js";
import { openDatabase } from "../../sink/storage/db.js";
import {
  nextBatchRows,
  PRUNE_BATCH_BUDGET_MS,
  PRUNE_MAX_BATCH_ROWS,
  Pruner,
} from "../../sink/storage/pruner.js";
import { MessageStore, type Incoming } from "../../sink/storage/store.js";
import { watchLoopGaps } from "../helpers/loop-gaps.js";
import { waitUntil } from "../helpers/poll.js";

/** What each deleted row costs in these tests. */
const SLOW_ROW_MS = 1;
const STORED = 600;
const KEEP = 50;
/**
 * Issue 7's bound on what pruning may add to a 250 is 100 ms, and batches aim
 * at ~10 ms; the headroom is for a loaded two-core machine running other suites
 * (gaps of ~100 ms were seen there). Fixed 500-row batches take >= 500 ms here.
 */
const STALL_LIMIT_MS = 250;

const parsed: ParsedFields = {
  from: { name: "", address: "p@x.test" },
  to: [{ name: "", address: "q@prune.test" }],
  cc: [],
  subject: "prune me",
  snippet: "x",
  messageId: null,
  date: null,
  headers: [],
  text: "x",
  html: null,
  attachments: [],
};

function incoming(): Incoming {
  return {
    raw: Buffer.from("Subject: prune me\r\n\r\nx\r\n"),
    envelope: { from: "p@x.test", to: ["q@prune.test"] },
    remoteIp: "127.0.0.1",
    heloName: "test",
    tls: false,
    authUser: null,
    receivedAt: Date.now(),
  };
}

const quietLog: Logger = { info: () => {}, error: () => {} };
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A store with STORED messages whose deletes cost SLOW_ROW_MS each, and a record of every delete transaction. */
function slowStore(): { store: MessageStore; deletes: { rows: number; ms: number }[] } {
  const dir = mkdtempSync(join(tmpdir(), "tun-prune-test-"));
  const db: Database.Database = openDatabase(join(dir, "sink.db"));
  const store = new MessageStore(db);
  cleanups.push(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  store.insertBatch(Array.from({ length: STORED }, () => ({ incoming: incoming(), parsed })));
  db.function("slow_row", () => {
    const until = performance.now() + SLOW_ROW_MS;
    while (performance.now() < until); // the cost of a row at scale, deterministically
    return null;
  });
  db.exec("CREATE TEMP TRIGGER slow_delete AFTER DELETE ON main.messages BEGIN SELECT slow_row(); END");
  const deletes: { rows: number; ms: number }[] = [];
  const deleteRows = store.deleteRows.bind(store);
  store.deleteRows = (rows) => {
    const t0 = performance.now();
    const ids = deleteRows(rows);
    deletes.push({ rows: rows.length, ms: performance.now() - t0 });
    return ids;
  };
  return { store, deletes };
}

describe("pruning a backlog", () => {
  test("the batch size follows the measured cost per row, within bounds", () => {
    expect(nextBatchRows(null)).toBeGreaterThan(0);
    expect(nextBatchRows(PRUNE_BATCH_BUDGET_MS / 40)).toBe(40);
    expect(nextBatchRows(PRUNE_BATCH_BUDGET_MS * 5)).toBe(1);
    expect(nextBatchRows(0)).toBe(PRUNE_MAX_BATCH_ROWS);
  });

  test("each delete transaction stays near the time budget however slow rows are", async () => {
    const { store, deletes } = slowStore();
    const pruner = new Pruner(store, { maxMessages: KEEP, maxAgeMs: 0 }, quietLog, () => {});
    cleanups.push(() => pruner.stop());
    pruner.kick();
    await waitUntil("the store pruned to its limit", () => store.messageCount === KEEP);
    expect(deletes.reduce((n, d) => n + d.rows, 0)).toBe(STORED - KEEP);
    // fixed 500-row batches: a first transaction of 500 rows, >= 500 ms
    expect(Math.max(...deletes.map((d) => d.ms))).toBeLessThan(STALL_LIMIT_MS);
    expect(deletes.length).toBeGreaterThan((STORED - KEEP) / (PRUNE_BATCH_BUDGET_MS * 4));
  });

  test("the event loop is never held long, and messages arriving meanwhile commit between batches", async () => {
    const { store, deletes } = slowStore();
    const committed: Message[] = [];
    const committer = new GroupCommitter(store, (m) => committed.push(...m));
    const pruner = new Pruner(store, { maxMessages: KEEP, maxAgeMs: 0 }, quietLog, () => {});
    cleanups.push(() => pruner.stop());
    const loop = watchLoopGaps(1);
    cleanups.push(() => loop.stop());
    pruner.kick();
    // one message at a time while the backlog lasts, as a test suite's mailer sends them
    const waits: number[] = [];
    while (store.messageCount > KEEP + 1) {
      const t0 = performance.now();
      await committer.add(incoming(), parsed);
      waits.push(performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, SLOW_ROW_MS)); // the next message comes a little later
    }
    await waitUntil("the store pruned to its limit", () => store.messageCount === KEEP);
    await committer.drain(); // the last commit's listeners run on the turn after it
    loop.stop();
    expect(deletes.length).toBeGreaterThan(1);
    expect(waits.length).toBeGreaterThan(1);
    expect(committed.length).toBe(waits.length);
    // fixed 500-row batches held the loop for the whole 500-row transaction
    expect(loop.maxGapMs()).toBeLessThan(STALL_LIMIT_MS);
    expect(Math.max(...waits)).toBeLessThan(STALL_LIMIT_MS);
  });
});
