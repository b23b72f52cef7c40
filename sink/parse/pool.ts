// Parses large messages in worker threads so they never hold up the SMTP event
// loop; small ones are parsed in place (see INLINE_PARSE_MAX_BYTES). A parse
// that takes too long, or a worker that dies, costs only the parsed fields of
// that message: it is stored with what fallbackFields() can read and the
// worker is replaced.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import {
  extractAttachment,
  fallbackFields,
  parseMessage,
  type ExtractedAttachment,
  type ParsedFields,
} from "./parse.js";
import type { ParseRequest, ParseResponse } from "./worker.js";

/**
 * Messages up to this size are parsed on the main thread (a few ms at most):
 * on a 2-core machine handing a 10 KiB message to a worker and back cost more
 * than parsing it (bench: 900 vs 760 msgs/s one connection per message, 2,400
 * vs 1,700 with reuse). Larger ones go to a worker so they never stall the loop.
 */
export const INLINE_PARSE_MAX_BYTES = 64 * 1024;
/** A parse running longer than this is abandoned (its worker terminated). */
export const PARSE_TIMEOUT_MS = 10_000;
/**
 * Workers are started with the first message and stopped after this long
 * without one: an idle sink keeps only its main thread (each worker costs
 * about 20 MB). Until a worker is up, messages are parsed on the main thread.
 */
export const POOL_IDLE_MS = 60_000;

interface Job {
  seq: number;
  /** The worker's answer, or null when the worker failed or took too long. */
  settle: (res: ParseResponse | null) => void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
  /** The worker is running and can take jobs. */
  ready: boolean;
  /** Requests of this event-loop turn, posted together. */
  outbox: ParseRequest[];
  /** Buffers handed over (not copied) with the outbox. */
  transfer: ArrayBuffer[];
}

export interface Parser {
  parse(raw: Buffer): Promise<ParsedFields>;
  /** One attachment of a stored message: a re-parse, in a worker for a large message (never on the SMTP thread). */
  extractAttachment(raw: Buffer, attachmentId: string): Promise<ExtractedAttachment | null>;
  close(): Promise<void>;
  /** Worker threads in use (0: parsing on the main thread). */
  readonly threads: number;
}

/**
 * V8 heap limits of a parse worker. A small young generation keeps the
 * garbage of a message burst from inflating the sink's RSS; the old
 * generation leaves room for the largest message mailparser may hold whole.
 */
const PARSE_WORKER_LIMITS = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 512 };

/** Compiled worker next to this module; absent when running from TypeScript sources (tests). */
const WORKER_URL = new URL("./worker.js", import.meta.url);

/** The buffer under `b` when `b` is all of it (a large read from SQLite), so it can be handed over; else undefined. */
function ownBuffer(b: Buffer): ArrayBuffer | undefined {
  return b.byteOffset === 0 && b.buffer.byteLength === b.length && b.buffer instanceof ArrayBuffer
    ? b.buffer
    : undefined;
}

export function createParser(threads: number, onProblem: (line: string) => void): Parser {
  if (threads <= 0 || !existsSync(fileURLToPath(WORKER_URL))) {
    return { threads: 0, parse: parseMessage, extractAttachment, close: async () => {} };
  }
  return new ParsePool(threads, onProblem);
}

class ParsePool implements Parser {
  private slots: Slot[] = [];
  private seq = 0;
  private closed = false;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly threads: number,
    private readonly onProblem: (line: string) => void,
  ) {}

  private spawn(): Slot {
    const slot: Slot = {
      worker: new Worker(WORKER_URL, { resourceLimits: PARSE_WORKER_LIMITS }),
      jobs: new Map(),
      ready: false,
      outbox: [],
      transfer: [],
    };
    slot.worker.unref();
    slot.worker.once("online", () => (slot.ready = true));
    slot.worker.on("message", (batch: ParseResponse[]) => {
      for (const res of batch) {
        const job = slot.jobs.get(res.seq);
        if (!job) continue;
        slot.jobs.delete(res.seq);
        clearTimeout(job.timer);
        job.settle(res);
      }
    });
    const fail = (why: string): void => {
      if (this.closed) return;
      this.replace(slot, why);
    };
    slot.worker.on("error", (err) => fail(`parse worker failed: ${err.message}`));
    slot.worker.on("exit", (code) => fail(`parse worker exited with code ${code}`));
    return slot;
  }

  /** Starts the workers if they are not running and pushes their retirement back. */
  private touch(): void {
    if (!this.slots.length) {
      for (let i = 0; i < this.threads; i++) this.slots.push(this.spawn());
    }
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => this.retireIfIdle(), POOL_IDLE_MS);
      this.idleTimer.unref();
    }
  }

  private retireIfIdle(): void {
    this.idleTimer = null;
    if (this.slots.some((s) => s.jobs.size)) return this.touch();
    const retired = this.slots;
    this.slots = [];
    for (const s of retired) {
      s.worker.removeAllListeners("exit");
      void s.worker.terminate();
    }
  }

  /** Swaps a broken or stuck worker for a new one; its pending messages get fallback fields. */
  private replace(slot: Slot, why: string): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.onProblem(
      `${why}; storing ${slot.jobs.size} message(s) with minimal parsing and starting a new worker`,
    );
    this.slots[i] = this.spawn();
    slot.worker.removeAllListeners("exit");
    void slot.worker.terminate();
    for (const job of slot.jobs.values()) {
      clearTimeout(job.timer);
      job.settle(null);
    }
    slot.jobs.clear();
  }

  parse(raw: Buffer): Promise<ParsedFields> {
    if (this.closed || raw.length <= INLINE_PARSE_MAX_BYTES) return parseMessage(raw);
    const slot = this.pick(true);
    if (!slot) return parseMessage(raw);
    return new Promise((resolve) =>
      this.post(slot, { seq: ++this.seq, raw }, (res) =>
        resolve(res?.ok && "fields" in res ? res.fields : fallbackFields(raw)),
      ),
    );
  }

  extractAttachment(raw: Buffer, attachmentId: string): Promise<ExtractedAttachment | null> {
    if (this.closed || raw.length <= INLINE_PARSE_MAX_BYTES) return extractAttachment(raw, attachmentId);
    // a worker still starting is fine here: its messages wait for it (ingestion cannot wait, a download can)
    const slot = this.pick(false);
    if (!slot) return extractAttachment(raw, attachmentId);
    return new Promise((resolve, reject) =>
      this.post(
        slot,
        { seq: ++this.seq, raw, attachmentId },
        (res) => {
          if (!res) return reject(new Error("extracting the attachment failed or took too long"));
          if (!res.ok) return reject(new Error(`extracting the attachment failed: ${res.error}`));
          if (!("attachment" in res) || !res.attachment) return resolve(null);
          const a = res.attachment;
          resolve({
            content: Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength),
            contentType: a.contentType,
            filename: a.filename,
          });
        },
        ownBuffer(raw),
      ),
    );
  }

  /** The least busy worker (starting the pool if needed); with onlyReady, null while none is running yet. */
  private pick(onlyReady: boolean): Slot | null {
    this.touch();
    const ready = this.slots.filter((s) => s.ready || !onlyReady);
    if (!ready.length) return null;
    return ready.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
  }

  /** Posts a request; `handOver` (the buffer under req.raw, unused after this) moves to the worker without a copy. */
  private post(
    slot: Slot,
    req: ParseRequest,
    settle: (res: ParseResponse | null) => void,
    handOver?: ArrayBuffer,
  ): void {
    const job: Job = { seq: req.seq, settle };
    job.timer = setTimeout(
      () => this.replace(slot, `parsing a message took over ${PARSE_TIMEOUT_MS} ms`),
      PARSE_TIMEOUT_MS,
    );
    slot.jobs.set(req.seq, job);
    if (!slot.outbox.length) {
      setImmediate(() => {
        const batch = slot.outbox;
        const transfer = slot.transfer;
        slot.outbox = [];
        slot.transfer = [];
        slot.worker.postMessage(batch, transfer);
      });
    }
    if (handOver) slot.transfer.push(handOver);
    slot.outbox.push(req);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await Promise.all(
      this.slots.map((s) => {
        s.worker.ref(); // keep the process alive until the workers are gone
        return s.worker.terminate();
      }),
    );
  }
}
