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
    /** Runs synchronously right after each commit, before any caller hears about it. */
    private readonly onCommitted: (messages: Message[]) => void,
  ) {}

  add(incoming: Incoming, parsed: ParsedFields): Promise<Message> {
    return new Promise((resolve, reject) => {
      this.queue.push({ incoming, parsed, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        this.inFlight = new Promise((done) =>
          setImmediate(() => {
            this.flush();
            done();
          }),
        );
      }
    });
  }

  /** Resolves once everything queued so far has been committed or failed. */
  drain(): Promise<void> {
    return this.inFlight;
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length) {
      const batch = this.queue.splice(0, MAX_BATCH_MESSAGES);
      let stored: Message[];
      try {
        stored = this.store.insertBatch(batch);
      } catch (err) {
        const e = new Error(`could not store the message: ${(err as Error).message}`);
        for (const p of batch) p.reject(e);
        continue;
      }
      this.onCommitted(stored);
      stored.forEach((m, i) => batch[i]!.resolve(m));
    }
  }
}
