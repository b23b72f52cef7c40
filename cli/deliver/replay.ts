// One stored message POSTed once to a target, exactly as --deliver sends it:
// what `tun mail deliver` runs per id, and what a UI "Deliver to app" action
// would call (through the laptop-side proxy that knows the target).
import type { SinkClient } from "@tunmail/client";
import { attemptDelivery, type AttemptResult } from "./attempt.js";
import { payloadFormat } from "./formats.js";
import { mailParts } from "./mail-parts.js";
import type { FormatName, Verdict } from "./payload.js";
import type { DeliveryTarget } from "./target.js";

export interface ReplayOptions {
  client: SinkClient;
  id: string;
  target: DeliveryTarget;
  format: FormatName;
  signingKey: string | undefined;
  timeoutMs: number;
}

export interface ReplayResult extends AttemptResult {
  /** What the answer means for this format ("retry" when there was none). */
  verdict: Verdict;
}

/** Rejects with the client's SinkApiError (code "not_found") when the id is not in the sink. */
export async function replayMessage(o: ReplayOptions): Promise<ReplayResult> {
  const mail = await mailParts(await o.client.get(o.id), await o.client.raw(o.id), []);
  const format = payloadFormat(o.format);
  const payload = await format.encode(mail, { url: o.target.url, signingKey: o.signingKey, now: new Date() });
  const result = await attemptDelivery(o.target.url, payload, o.id, { timeoutMs: o.timeoutMs });
  return { ...result, verdict: result.status === null ? "retry" : format.verdict(result.status) };
}
