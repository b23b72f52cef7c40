// What delivery tells the user: one event per attempt (plus start, skip and
// stream trouble), printed as one console line or, with --json, as one JSON
// object per line. Both go to stderr with the other status lines, so stdout
// stays the message stream (`tun watch --json | jq` keeps working).
import { formatMs } from "./attempt.js";
import type { Verdict } from "./payload.js";

export type AttemptOutcome = Verdict | "gave_up";

export type DeliveryEvent =
  | { event: "started"; url: string; format: string; after: string | null }
  | {
      event: "attempt";
      id: string;
      attempt: number;
      method: "POST";
      url: string;
      target: string;
      status: number | null;
      ms: number;
      error: string | null;
      outcome: AttemptOutcome;
      /** ISO time of the next attempt when outcome is "retry". */
      nextAttemptAt: string | null;
    }
  | { event: "skipped"; id: string; reason: string }
  | { event: "stream_error"; message: string };

const OUTCOME_NOTE: Record<Exclude<AttemptOutcome, "delivered" | "retry">, string> = {
  stopped: "the provider's stop code: not retried",
  rejected: "a permanent failure for this format: not retried (replay with tun mail deliver)",
  gave_up: "giving up: the retry time is over (replay with tun mail deliver)",
};

function clock(iso: string): string {
  const d = new Date(iso);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

export function formatEvent(e: DeliveryEvent): string {
  switch (e.event) {
    case "started":
      return `[deliver] delivering to ${e.url} as ${e.format}${e.after ? `, resuming after ${e.after}` : ""}`;
    case "skipped":
      return `[deliver] ${e.id} skipped: ${e.reason}`;
    case "stream_error":
      return `[deliver] cannot read new mail from the sink: ${e.message}; retrying`;
    case "attempt": {
      const answer = e.status === null ? e.error : `${e.status} in ${formatMs(e.ms)}`;
      const line = `[deliver] ${e.id} → POST ${e.target} ${answer}`;
      if (e.outcome === "delivered") return line;
      if (e.outcome === "retry") return `${line}; retry ${e.attempt + 1} at ${clock(e.nextAttemptAt!)}`;
      return `${line}; ${OUTCOME_NOTE[e.outcome]}`;
    }
  }
}

/** An event sink for startDelivery that prints lines (or NDJSON) through `write`. */
export function deliveryReporter(o: { json: boolean; write: (line: string) => void }) {
  return (e: DeliveryEvent): void => o.write(o.json ? JSON.stringify(e) : formatEvent(e));
}
