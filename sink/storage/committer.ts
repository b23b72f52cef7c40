// Group commit: the messages whose DATA finished within a short window (or
// one event-loop turn once enough are queued) are written in one SQLite
// transaction. Each caller's promise settles only
// after that transaction committed (or failed), so the SMTP layer never says
// 250 for a message that is not on disk.
import type { Message } from "../../protocol/wire.js";
import type { ParsedFields } from "../parse/parse.js";
import type { Incoming, MessageStore } from "./store.js";

/** Upper bound of messages in one transaction, so one commit never holds the loop for long. */
export const MAX_BATCH_MESSAGES = 256;
/**
 * How long a commit waits for more messages while the sink is busy (see
 * BUSY_GAP_MS) and fewer than COMMIT_READY_MESSAGES are queued. With one
 * connection per message (bench A) nearly every message finished in its own
 * event-loop turn, so each paid a whole transaction (WAL frames for the index
 * pages it touched, the commit record): after socket writes the largest cost
 * on the event loop. The wait costs a message at most this much before its 250
 * (the 250 still follows the commit).
 */
export const COMMIT_WINDOW_MS = 1;
/**
 * Average gap between arriving messages below which the sink counts as busy
 * (here: over ~800 msgs/s). At a lighter load a message is committed on the
 * turn it arrived: an unconditional window moved bench E's DATA → 250 p50 from
 * 0.8 to 2.0 ms while coalescing almost nothing at that rate.
 */
export const BUSY_GAP_MS = 1.25;
/** Weight of the newest gap in the running average. */
const GAP_AVERAGE_WEIGHT = 0.1;
/** Queued messages that are committed at once, without waiting for the window. */
export const COMMIT_READY_MESSAGES = 16;
/**
 * A commit SQLite refused as busy is tried again after this long. SQLite
 * sometimes answers SQLITE_BUSY at once, without its busy handler (seen under
 * load while the checkpoint thread restarted the WAL): answering 451 then made
 * the client resend a message the sink could have kept a few ms later.
 */
export const BUSY_RETRY_MS = 10;
/** How long after its first try a busy batch is still retried; then its senders get 451. */
export const BUSY_RETRY_DEADLINE_MS = 10_000;

interface Pending {
  incoming: Incoming;
  parsed: ParsedFields;
  resolve: (m: Message) => void;
  reject: (err: Error) => void;
  /** performance.now() of the first commit attempt that SQLite refused as busy. */
  busySince?: number;
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
}

export interface CommitterOptions {
  /** Told once per batch when its commit is retried because the database was busy. */
  onBusyRetry?: (err: Error) => void;
  busyRetryDeadlineMs?: number;
}

export class GroupCommitter {
  private queue: Pending[] = [];
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private done: () => void = () => {};
  private lastAddAt = 0;
  /** Running average of the gap between arriving messages, ms. */
  private gapAverageMs = Infinity;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: MessageStore,
    /** Runs on the turn after each commit, once the callers have been answered. */
    private readonly onCommitted: (messages: Message[]) => void,
    /**
     * Runs in the commit's own turn, right after the callers' 250s were
     * written: for what someone is blocked on (held `wait` requests, stream
     * frames). Waiting for the next turn put a whole poll phase in front of
     * them (every socket that became readable meanwhile, with the parsing it
     * starts): bench E's 250 -> `wait` answer p99 was 12-22 ms, 250 -> frame
     * p99 10-15 ms.
     */
    private readonly onCommittedNow: (messages: Message[]) => void = () => {},
    private readonly options: CommitterOptions = {},
  ) {}

  add(incoming: Incoming, parsed: ParsedFields): Promise<Message> {
    const now = performance.now();
    const gap = now - this.lastAddAt;
    this.lastAddAt = now;
    this.gapAverageMs =
      this.gapAverageMs === Infinity
        ? gap
        : this.gapAverageMs + GAP_AVERAGE_WEIGHT * (gap - this.gapAverageMs);
    return new Promise((resolve, reject) => {
      this.queue.push({ incoming, parsed, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) {
      // enough queued: commit on this turn's check phase instead of waiting out the window
      if (this.timer && this.queue.length >= COMMIT_READY_MESSAGES) {
        clearTimeout(this.timer);
        this.timer = null;
        this.immediate = setImmediate(this.run);
      }
      return;
    }
    this.scheduled = true;
    this.inFlight = new Promise((done) => (this.done = done));
    const busy = this.gapAverageMs < BUSY_GAP_MS;
    if (busy && this.queue.length < COMMIT_READY_MESSAGES)
      this.timer = setTimeout(this.run, COMMIT_WINDOW_MS);
    else this.immediate = setImmediate(this.run);
  }

  /** Puts a busy batch back in front and tries again after BUSY_RETRY_MS, whatever was scheduled. */
  private retryLater(batch: Pending[]): void {
    this.queue.unshift(...batch);
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    if (!this.scheduled) {
      this.scheduled = true;
      this.inFlight = new Promise((done) => (this.done = done));
    }
    this.timer = setTimeout(this.run, BUSY_RETRY_MS);
  }

  private readonly run = (): void => {
    this.timer = null;
    this.immediate = null;
    const done = this.done;
    this.flush();
    // listeners of this batch run on the turn after the flush
    setImmediate(done);
  };

  /** Resolves once everything queued so far has been committed or failed, and its listeners ran. */
  drain(): Promise<void> {
    return this.inFlight;
  }

  /**
   * One transaction per turn (at most MAX_BATCH_MESSAGES), so a backlog never
   * holds the event loop for long. The callers' promises settle first (their
   * 250s go out in this turn's microtasks); then onCommittedNow (wait, stream)
   * runs in the same turn, onCommitted (pruning, checkpoints) on the next turn. Both see only committed messages; the stream
   * drops anything a replay has already sent, so the delay creates no gap and
   * no duplicate.
   */
  private flush(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0, MAX_BATCH_MESSAGES);
    if (this.queue.length) this.schedule();
    let stored: Message[];
    try {
      stored = this.store.insertBatch(batch);
    } catch (err) {
      const now = performance.now();
      const since = Math.min(...batch.map((p) => (p.busySince ??= now)));
      const deadline = this.options.busyRetryDeadlineMs ?? BUSY_RETRY_DEADLINE_MS;
      if (isBusy(err) && now - since < deadline) {
        if (since === now) this.options.onBusyRetry?.(err as Error);
        this.retryLater(batch);
        return;
      }
      const e = new Error(`could not store the message: ${(err as Error).message}`);
      for (const p of batch) p.reject(e);
      return;
    }
    stored.forEach((m, i) => batch[i]!.resolve(m));
    // The callers' 250s are written by promise reactions (microtasks) of the
    // resolves above. A nextTick queued from a microtask runs once Node has
    // drained the whole microtask queue, i.e. after every one of those 250s,
    // and still before this turn ends.
    queueMicrotask(() => process.nextTick(() => this.onCommittedNow(stored)));
    setImmediate(() => this.onCommitted(stored));
  }
}
