// The delivery queue behind `--deliver`: its own stream of the sink's mail
// (so a slow or absent app never holds up the tunnel or the console), one
// message at a time in arrival order, each POSTed until the app acknowledges
// it, the format's stop code ends it, or the retry time is over. The position
// advances only when a message's delivery has ended, and is saved, so a
// reconnect or a restart resumes from the last message delivered.
import { SinkApiError, type SinkClient } from "@tunmail/client";
import type { Message } from "../../protocol/wire.js";
import { attemptDelivery } from "./attempt.js";
import type { AttemptOutcome, DeliveryEvent } from "./events.js";
import { payloadFormat } from "./formats.js";
import { mailParts, preloadPayloadCode, type MailParts } from "./mail-parts.js";
import type { FormatName } from "./payload.js";
import { DeliveryPosition } from "./position.js";
import type { DeliveryTarget } from "./target.js";
import type { DeliveryTimings } from "./timings.js";

/** Messages read ahead of the one being delivered; beyond this the stream waits (and the sink may shed it). */
const MAX_QUEUED_MESSAGES = 1_000;
/** Sorts before every ULID: "after this" means everything stored. */
const BEFORE_FIRST_ID = "0".repeat(26);

export interface DeliveryOptions {
  /** The sink the mail comes from (the VM's through the tunnel's forward, or a local one). */
  client: SinkClient;
  /** Address / @domain patterns of the mail to deliver; empty: all. */
  to: string[];
  target: DeliveryTarget;
  format: FormatName;
  /** Mailgun's webhook signing key (--signing-key / TUN_DELIVER_SIGNING_KEY). */
  signingKey?: string;
  /** How long one message is retried, from when it was read from the stream, ms. */
  retryForMs: number;
  /** Names the mail source for the saved position, e.g. "up:tun.example.com:api". */
  scope: string;
  /** Default: $XDG_STATE_HOME/tun. */
  stateDir?: string;
  timings: DeliveryTimings;
  onEvent: (e: DeliveryEvent) => void;
}

export interface Delivery {
  /** Stops at once (an attempt in flight is abandoned and will be redone next time); idempotent. */
  stop(): Promise<void>;
}

interface Pending {
  message: Message;
  readAt: number;
}

export function startDelivery(o: DeliveryOptions): Delivery {
  const run = new DeliveryRun(o);
  return { stop: () => run.stop() };
}

class DeliveryRun {
  private readonly abort = new AbortController();
  private readonly queue: Pending[] = [];
  private readonly position: DeliveryPosition;
  /** Where the stream resumes after a failure: the newest message queued. */
  private resumeAfter: string | null;
  private wakeWorker: (() => void) | null = null;
  private wakePump: (() => void) | null = null;
  private readonly done: Promise<unknown>;

  constructor(private readonly o: DeliveryOptions) {
    this.position = new DeliveryPosition(o.scope, o.target.url.toString(), o.stateDir);
    this.resumeAfter = this.position.load();
    this.done = Promise.all([this.pump(), this.work()]);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.wakeWorker?.();
    this.wakePump?.();
    await this.done;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async pump(): Promise<void> {
    const { o } = this;
    let failures = 0;
    const saved = this.resumeAfter;
    let announced = false;
    // Ready before the stream (and the "delivering to" line) is: see preloadPayloadCode.
    await preloadPayloadCode();
    while (!this.stopped) {
      try {
        const stream = o.client.stream({
          to: o.to.length ? o.to : undefined,
          since: this.resumeAfter ?? undefined,
          signal: this.abort.signal,
          onConnected: ({ lastId }) => {
            failures = 0;
            this.resumeAfter ??= lastId ?? BEFORE_FIRST_ID;
            if (announced) return;
            announced = true;
            o.onEvent({ event: "started", url: o.target.url.toString(), format: o.format, after: saved });
          },
        });
        for await (const message of stream) {
          this.resumeAfter = message.id;
          this.queue.push({ message, readAt: Date.now() });
          this.wakeWorker?.();
          while (this.queue.length >= MAX_QUEUED_MESSAGES && !this.stopped) {
            await new Promise<void>((resolve) => (this.wakePump = resolve));
          }
        }
      } catch (err) {
        if (this.stopped) break;
        // The stream reconnects by itself after drops; this is a failed first connection or a refusal.
        if (failures++ === 0) o.onEvent({ event: "stream_error", message: (err as Error).message });
        await sleep(o.timings.retryMinMs, this.abort.signal);
      }
    }
  }

  private async work(): Promise<void> {
    while (!this.stopped) {
      const next = this.queue[0];
      if (!next) {
        await new Promise<void>((resolve) => (this.wakeWorker = resolve));
        continue;
      }
      const ended = await this.deliver(next);
      if (!ended) break;
      this.queue.shift();
      this.wakePump?.();
      this.position.save(next.message.id);
    }
  }

  /** Delivers one message; resolves true when its delivery has ended, false when stopped first. */
  private async deliver({ message, readAt }: Pending): Promise<boolean> {
    const { o } = this;
    const format = payloadFormat(o.format);
    const deadline = readAt + o.retryForMs;
    let mail: MailParts | null = null;
    for (let attempt = 1; !this.stopped; attempt++) {
      let failure: string | null = null;
      if (!mail) {
        try {
          mail = await mailParts(message, await o.client.raw(message.id), o.to);
        } catch (err) {
          if (this.stopped) return false;
          if (err instanceof SinkApiError && err.code === "not_found") {
            o.onEvent({ event: "skipped", id: message.id, reason: "deleted from the sink before delivery" });
            return true;
          }
          failure = `cannot read the message from the sink: ${(err as Error).message}`;
        }
      }
      let result = { status: null as number | null, ms: 0, error: failure };
      if (mail) {
        const payload = await format.encode(mail, {
          url: o.target.url,
          signingKey: o.signingKey,
          now: new Date(),
        });
        result = await attemptDelivery(o.target.url, payload, message.id, {
          timeoutMs: o.timings.requestTimeoutMs,
          signal: this.abort.signal,
        });
        if (this.stopped) return false;
      }
      let outcome: AttemptOutcome = result.status === null ? "retry" : format.verdict(result.status);
      let nextAttemptAt: string | null = null;
      if (outcome === "retry") {
        const now = Date.now();
        const delay = Math.min(backoffMs(attempt, o.timings), deadline - now);
        if (delay <= 0) outcome = "gave_up";
        else nextAttemptAt = new Date(now + delay).toISOString();
      }
      o.onEvent({
        event: "attempt",
        id: message.id,
        attempt,
        method: "POST",
        url: o.target.url.toString(),
        target: o.target.display,
        status: result.status,
        ms: result.ms,
        error: result.error,
        outcome,
        nextAttemptAt,
      });
      if (nextAttemptAt === null) return true;
      await sleep(Date.parse(nextAttemptAt) - Date.now(), this.abort.signal);
    }
    return false;
  }
}

/** retryMinMs, doubling per attempt, at most retryMaxMs. */
function backoffMs(attempt: number, t: DeliveryTimings): number {
  return Math.min(t.retryMaxMs, t.retryMinMs * 2 ** (attempt - 1));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
