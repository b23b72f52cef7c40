// Group commit: the messages whose DATA finished within one event-loop turn
// are written in one SQLite transaction. Each caller's promise settles only
// after that transaction committed (or failed), so the SMTP layer never says
// 250 for a message that is not on disk.
import type { Message } from "../../protocol/wire.js";
import type { ParsedFields } from "../parse/parse.js";
import type { Incoming, MessageStore } from "./store.js";

/** Upper bound of messages in one transaction, so one commit never holds the loop for long. */
export const MAX_BATCH_MESSAGES = 256;

interface Pending {
  incoming: Incoming;
  parsed: ParsedFields;
  resolve: (m: Message) => void;
  reject: (err: Error) => void;
}

export class GroupCommitter {
  private queue: Pending[] = [];
  private scheduled = false;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: MessageStore,
    /** Runs on the turn after each commit, once the callers have been answered. */
    private readonly onCommitted: (messages: Message[]) => void,
  ) {}

  add(incoming: Incoming, parsed: ParsedFields): Promise<Message> {
    return new Promise((resolve, reject) => {
      this.queue.push({ incoming, parsed, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.inFlight = new Promise((done) =>
      setImmediate(() => {
        this.flush();
        // listeners of this batch run on the turn after the flush
        setImmediate(done);
      }),
    );
  }

  /** Resolves once everything queued so far has been committed or failed, and its listeners ran. */
  drain(): Promise<void> {
    return this.inFlight;
  }

  /**
   * One transaction per turn (at most MAX_BATCH_MESSAGES), so a backlog never
   * holds the event loop for long. The callers' promises settle first (their
   * 250s go out in this turn's microtasks); the listeners (stream, wait,
   * pruning) run on the next turn. Both see only committed messages; the stream
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
      const e = new Error(`could not store the message: ${(err as Error).message}`);
      for (const p of batch) p.reject(e);
      return;
    }
    stored.forEach((m, i) => batch[i]!.resolve(m));
    setImmediate(() => this.onCommitted(stored));
  }
}
