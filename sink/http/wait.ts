// GET /api/v1/wait: holds a request until a matching message is committed.
// The request is registered before the stored-match check runs (in the reader
// worker, whose snapshot starts after the registration): a commit in between
// is seen by the check or held as the first live match, so none slips through.
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
  /** Until the stored-match check is done: live matches are held here, not sent. */
  checking: boolean;
  /** The timeout passed during the check. */
  expired: boolean;
  early: Message | null;
}

/** A registered wait whose stored-match check is running. */
export interface HeldWait {
  /** The check found `stored` (the newest stored match) or nothing: answer now or keep waiting. */
  settle(stored: Message | null): void;
  /** The check failed: unregister (the caller answers the request). */
  cancel(): void;
}

/** Which of the just-committed ids match a filter with a search= (the store answers that; see notify). */
export type SearchMatcher = (ids: readonly string[], filter: StoreFilter) => Set<string>;

export class WaitRegistry {
  private readonly waiters = new Set<Waiter>();

  constructor(
    /** --max-waits: held requests beyond this get 503 with Retry-After. */
    private readonly maxWaits: number,
    private readonly searchMatches: SearchMatcher,
  ) {}

  get size(): number {
    return this.waiters.size;
  }

  add(filter: StoreFilter, res: ServerResponse, timeoutMs: number): HeldWait {
    if (this.waiters.size >= this.maxWaits) {
      throw new HttpError(
        503,
        "unavailable",
        `${this.maxWaits} wait requests are already held; retry shortly`,
        { "retry-after": String(RETRY_AFTER_S) },
      );
    }
    const seconds = Math.round(timeoutMs / 100) / 10;
    const timeOut = (): void => {
      this.waiters.delete(waiter);
      sendError(
        res,
        new HttpError(
          408,
          "timeout",
          `no message matching ${describeFilter(filter)} arrived within ${seconds} s`,
        ),
      );
    };
    const waiter: Waiter = {
      filter,
      res,
      checking: true,
      expired: false,
      early: null,
      // a timeout during the stored-match check waits for its answer (timeout=0 still returns a stored match)
      timer: setTimeout(() => (waiter.checking ? (waiter.expired = true) : timeOut()), timeoutMs),
    };
    this.waiters.add(waiter);
    const finish = (): void => {
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
    };
    res.on("close", finish);
    return {
      settle: (stored) => {
        if (!this.waiters.has(waiter)) return; // the client is gone
        waiter.checking = false;
        const answer = stored ?? waiter.early;
        if (answer) {
          finish();
          sendJson(res, 200, answer);
        } else if (waiter.expired) timeOut();
      },
      cancel: finish,
    };
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
      if (waiter.checking) {
        waiter.early ??= match;
        continue;
      }
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
