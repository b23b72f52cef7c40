// Keeps the store within --max-messages and --max-age by deleting the oldest
// messages in small batches, one batch per event-loop turn, so pruning a big
// backlog never stalls ingestion.
import { setImmediate as nextTurn } from "node:timers/promises";
import type { Logger } from "../log.js";
import type { MessageStore } from "./store.js";

/** Rows deleted per transaction. */
export const PRUNE_BATCH_ROWS = 500;
/** How often the age limit is checked when nothing else triggers a prune. */
export const PRUNE_INTERVAL_MS = 60_000;

export class Pruner {
  private running: Promise<void> | null = null;
  private again = false;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

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
    try {
      while (!this.stopped) {
        const cutoff = this.limits.maxAgeMs > 0 ? Date.now() - this.limits.maxAgeMs : null;
        const rows = this.store.pruneCandidates(this.limits.maxMessages, cutoff, PRUNE_BATCH_ROWS);
        if (!rows.length) break;
        const ids = this.store.deleteRows(rows);
        total += ids.length;
        this.onDeleted(ids);
        await nextTurn();
      }
    } catch (err) {
      // the next commit or the timer tries again; a failing prune must not take the sink down
      this.log.error("store", `pruning failed: ${(err as Error).message}`);
    }
    if (total) this.log.info("store", `pruned ${total} old message(s); ${this.store.messageCount} kept`);
  }

  /** Resolves when a running pass has stopped. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}
