// GET /api/v1/wait: holds a request until a matching message is committed.
// The stored-match check and the registration happen in the same tick as
// each other (the store is synchronous), so no commit can slip between them.
import type { ServerResponse } from "node:http";
import type { Message } from "../../protocol/wire.js";
import { matchesFilter } from "../storage/filter.js";
import type { StoreFilter } from "../storage/store.js";
import { HttpError, RETRY_AFTER_S, sendError, sendJson } from "./respond.js";
import { describeFilter } from "./query.js";

interface Waiter {
  filter: StoreFilter;
  res: ServerResponse;
  timer: NodeJS.Timeout;
}

export class WaitRegistry {
  private readonly waiters = new Set<Waiter>();

  constructor(
    /** --max-waits: held requests beyond this get 503 with Retry-After. */
    private readonly maxWaits: number,
  ) {}

  get size(): number {
    return this.waiters.size;
  }

  add(filter: StoreFilter, res: ServerResponse, timeoutMs: number): void {
    if (this.waiters.size >= this.maxWaits) {
      throw new HttpError(
        503,
        "unavailable",
        `${this.maxWaits} wait requests are already held; retry shortly`,
        { "retry-after": String(RETRY_AFTER_S) },
      );
    }
    const waiter: Waiter = {
      filter,
      res,
      timer: setTimeout(() => {
        this.waiters.delete(waiter);
        const seconds = Math.round(timeoutMs / 100) / 10;
        sendError(
          res,
          new HttpError(
            408,
            "timeout",
            `no message matching ${describeFilter(filter)} arrived within ${seconds} s`,
          ),
        );
      }, timeoutMs),
    };
    this.waiters.add(waiter);
    res.on("close", () => {
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
    });
  }

  /** Answers every waiter that one of the just-committed messages satisfies. */
  notify(messages: readonly Message[]): void {
    if (!this.waiters.size) return;
    for (const waiter of this.waiters) {
      const match = messages.find((m) => matchesFilter(waiter.filter, m));
      if (!match) continue;
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      sendJson(waiter.res, 200, match);
    }
  }

  /** On shutdown: every held request gets a 503 instead of hanging until its timeout. */
  close(): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      sendError(waiter.res, new HttpError(503, "unavailable", "the sink is shutting down"));
    }
    this.waiters.clear();
  }
}
