// Keeps the store within --max-messages and --max-age by deleting the oldest
// messages in transactions bounded by time, with a pause between them, so
// pruning a big backlog never stalls ingestion.
import { statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../log.js";
import type { MessageStore } from "./store.js";

/**
 * Wall time one delete transaction aims at. A message whose DATA ends while a
 * batch runs waits for it before its own commit, so this bounds what pruning
 * adds to an SMTP 250. Each row costs its full-text and address-index deletes
 * (the messages_after_delete trigger): ~0.2 ms a row at 1,000,000 stored, so
 * fixed 500-row batches held the loop ~100 ms each, back to back.
 */
export const PRUNE_BATCH_BUDGET_MS = 10;
/** Rows in the first transaction of a pass, before a row has been timed. */
export const PRUNE_FIRST_BATCH_ROWS = 20;
/** Upper bound of rows per transaction, however cheap rows are (small stores). */
export const PRUNE_MAX_BATCH_ROWS = 2000;
/**
 * Pause between batches. A timer, not setImmediate: while a timer is pending
 * the loop's poll phase waits for sockets, so SMTP commands, parse results and
 * the group commit (a setImmediate) all run before the next batch. Under
 * setImmediate back to back, a commit queued behind a batch still waited it out.
 */
export const PRUNE_PAUSE_MS = 2;
/**
 * The pruner waits while the WAL file is longer than this, so the checkpoint
 * thread can copy it and start it over at a moment that costs ingestion
 * nothing (a RESTART with nothing left to copy, see checkpoint-worker.ts).
 * Pruning writes ~4 KB of WAL per deleted message at 1,000,000 stored; without
 * the pause the WAL only grows until mail stops. The checkpoint thread restarts
 * from 64 MiB of WAL too.
 */
export const PRUNE_WAL_PAUSE_BYTES = 64 * 1024 * 1024;
/** How often the WAL is looked at while waiting. */
const PRUNE_WAL_POLL_MS = 20;
/**
 * Longest wait for the WAL to be cut back; then pruning goes on regardless
 * until the WAL has been short again (no checkpoint thread, a long reader).
 * The file only shrinks at the first commit after the restart.
 */
export const PRUNE_WAL_WAIT_MS = 1000;
/** Weight of the newest batch in the running cost per row. */
const COST_AVERAGE_WEIGHT = 0.3;
/** How often the age limit is checked when nothing else triggers a prune. */
export const PRUNE_INTERVAL_MS = 60_000;

/** Rows the next batch may delete to stay within the budget, given the running cost per row. */
export function nextBatchRows(msPerRow: number | null): number {
  if (msPerRow === null) return PRUNE_FIRST_BATCH_ROWS;
  const rows = Math.floor(PRUNE_BATCH_BUDGET_MS / Math.max(msPerRow, Number.EPSILON));
  return Math.max(1, Math.min(PRUNE_MAX_BATCH_ROWS, rows));
}

export class Pruner {
  private running: Promise<void> | null = null;
  private again = false;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  /** Running cost of deleting one row, ms (null until a batch was timed). Kept across passes. */
  private msPerRow: number | null = null;
  /** Set when a wait for the WAL timed out; cleared once the WAL is short again. */
  private walWaitGaveUp = false;

  constructor(
    private readonly store: MessageStore,
    private readonly limits: { maxMessages: number; maxAgeMs: number },
    private readonly log: Logger,
    private readonly onDeleted: (ids: string[]) => void,
  ) {
    this.timer = setInterval(() => this.kick(), PRUNE_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * Cheap check after each commit: prune only when the count limit is exceeded,
   * and on a later turn, so the deletion never delays the commit's 250s.
   */
  afterInsert(): void {
    if (this.limits.maxMessages > 0 && this.store.messageCount > this.limits.maxMessages && !this.running) {
      setImmediate(() => this.kick());
    }
  }

  /** Starts a prune pass (or asks the running one to go again). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async run(): Promise<void> {
    let total = 0;
    let batches = 0;
    try {
      while (!this.stopped) {
        await this.waitForShortWal();
        const cutoff = this.limits.maxAgeMs > 0 ? Date.now() - this.limits.maxAgeMs : null;
        const t0 = performance.now();
        const rows = this.store.pruneCandidates(
          this.limits.maxMessages,
          cutoff,
          nextBatchRows(this.msPerRow),
        );
        if (!rows.length) break;
        const ids = this.store.deleteRows(rows);
        this.learn(performance.now() - t0, rows.length);
        total += ids.length;
        batches++;
        this.onDeleted(ids);
        await sleep(PRUNE_PAUSE_MS);
      }
    } catch (err) {
      // the next commit or the timer tries again; a failing prune must not take the sink down
      this.log.error("store", `pruning failed: ${(err as Error).message}`);
    }
    if (total)
      this.log.info(
        "store",
        `pruned ${total} old message(s) in ${batches} batch(es); ${this.store.messageCount} kept`,
      );
  }

  private walBytes(): number {
    try {
      return statSync(this.store.path + "-wal").size;
    } catch {
      return 0;
    }
  }

  private async waitForShortWal(): Promise<void> {
    if (this.walBytes() <= PRUNE_WAL_PAUSE_BYTES) {
      this.walWaitGaveUp = false;
      return;
    }
    if (this.walWaitGaveUp) return;
    const deadline = performance.now() + PRUNE_WAL_WAIT_MS;
    while (!this.stopped && this.walBytes() > PRUNE_WAL_PAUSE_BYTES) {
      if (performance.now() > deadline) {
        this.walWaitGaveUp = true;
        return;
      }
      await sleep(PRUNE_WAL_POLL_MS);
    }
  }

  private learn(ms: number, rows: number): void {
    const sample = ms / rows;
    this.msPerRow =
      this.msPerRow === null ? sample : this.msPerRow + COST_AVERAGE_WEIGHT * (sample - this.msPerRow);
  }

  /** Resolves when a running pass has stopped. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}
