// GET /api/v1/wait: holds a request until a matching message is committed.
// The stored-match check and the registration happen in the same tick as
// each other (the store is synchronous), so no commit can slip between them.
import type { ServerResponse } from "node:http";
import type { Message } from "../../protocol/wire.js";
import { matchesFilter } from "../storage/filter.js";
import type { StoreFilter } from "../storage/store.js";
import { HttpError, sendError, sendJson } from "./respond.js";
import { describeFilter } from "./query.js";

interface Waiter {
  filter: StoreFilter;
  res: ServerResponse;
  timer: NodeJS.Timeout;
}

/** Which of the just-committed ids match a filter with a search= (the store answers that; see notify). */
export type SearchMatcher = (ids: readonly string[], filter: StoreFilter) => Set<string>;

export class WaitRegistry {
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly searchMatches: SearchMatcher) {}

  get size(): number {
    return this.waiters.size;
  }

  add(filter: StoreFilter, res: ServerResponse, timeoutMs: number): void {
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
      let candidates = messages.filter((m) => matchesFilter(waiter.filter, m));
      if (waiter.filter.search && candidates.length) {
        // search= has full text and read state, which only the store knows: it answers for these ids
        const ids = this.searchMatches(
          candidates.map((m) => m.id),
          waiter.filter,
        );
        candidates = candidates.filter((m) => ids.has(m.id));
      }
      const match = candidates[0];
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
