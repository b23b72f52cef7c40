// The message filter in memory: the same rules the SQL in store.ts applies,
// for messages that were just committed (wait and stream listeners).
import { addressMatches, type Message } from "../../protocol/wire.js";
import { ULID_RE, type Since, type StoreFilter } from "./store.js";

/** Reads since= as a message id or an ISO time; null when it is neither. */
export function parseSince(text: string): Since | null {
  const t = text.trim();
  if (ULID_RE.test(t)) return { id: t.toUpperCase() };
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : { timeMs: ms };
}

function recipients(m: Message): string[] {
  return [...m.envelope.to, ...m.to.map((a) => a.address), ...m.cc.map((a) => a.address)];
}

function senders(m: Message): string[] {
  return [m.envelope.from, ...(m.from ? [m.from.address] : [])];
}

export function matchesTo(patterns: readonly string[], m: Message): boolean {
  if (!patterns.length) return true;
  const addrs = recipients(m);
  return patterns.some((p) => addrs.some((a) => addressMatches(p, a)));
}

/** True when a stored message passes the filter (q= is not supported here: wait and the stream do not take it). */
export function matchesFilter(filter: StoreFilter, m: Message): boolean {
  if (filter.to && !matchesTo([filter.to], m)) return false;
  if (filter.from && !senders(m).some((a) => addressMatches(filter.from!, a))) return false;
  if (filter.subject && !m.subject.toLowerCase().includes(filter.subject.toLowerCase())) return false;
  if (filter.since?.id && !(m.id > filter.since.id)) return false;
  if (filter.since?.timeMs !== undefined && Date.parse(m.receivedAt) < filter.since.timeMs) return false;
  return true;
}
