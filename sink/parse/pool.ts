// Parses messages in worker threads so a large or pathological message never
// holds up the SMTP event loop (and parsing uses the second core). A parse
// that takes too long, or a worker that dies, costs only the parsed fields of
// that message: it is stored with what fallbackFields() can read and the
// worker is replaced.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { fallbackFields, parseMessage, type ParsedFields } from "./parse.js";
import type { ParseRequest, ParseResponse } from "./worker.js";

/** A parse running longer than this is abandoned (its worker terminated). */
export const PARSE_TIMEOUT_MS = 10_000;

interface Job {
  seq: number;
  raw: Buffer;
  resolve: (f: ParsedFields) => void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
}

export interface Parser {
  parse(raw: Buffer): Promise<ParsedFields>;
  close(): Promise<void>;
  /** Worker threads in use (0: parsing on the main thread). */
  readonly threads: number;
}

/** Compiled worker next to this module; absent when running from TypeScript sources (tests). */
const WORKER_URL = new URL("./worker.js", import.meta.url);

export function createParser(threads: number, onProblem: (line: string) => void): Parser {
  if (threads <= 0 || !existsSync(fileURLToPath(WORKER_URL))) {
    return { threads: 0, parse: parseMessage, close: async () => {} };
  }
  return new ParsePool(threads, onProblem);
}

class ParsePool implements Parser {
  private readonly slots: Slot[] = [];
  private seq = 0;
  private closed = false;

  constructor(
    readonly threads: number,
    private readonly onProblem: (line: string) => void,
  ) {
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(WORKER_URL), jobs: new Map() };
    slot.worker.unref();
    slot.worker.on("message", (res: ParseResponse) => {
      const job = slot.jobs.get(res.seq);
      if (!job) return;
      slot.jobs.delete(res.seq);
      clearTimeout(job.timer);
      job.resolve(res.ok ? res.fields : fallbackFields(job.raw));
    });
    const fail = (why: string): void => {
      if (this.closed) return;
      this.replace(slot, why);
    };
    slot.worker.on("error", (err) => fail(`parse worker failed: ${err.message}`));
    slot.worker.on("exit", (code) => fail(`parse worker exited with code ${code}`));
    return slot;
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
      job.resolve(fallbackFields(job.raw));
    }
    slot.jobs.clear();
  }

  parse(raw: Buffer): Promise<ParsedFields> {
    if (this.closed) return parseMessage(raw);
    const slot = this.slots.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
    const seq = ++this.seq;
    return new Promise((resolve) => {
      const job: Job = { seq, raw, resolve };
      job.timer = setTimeout(
        () => this.replace(slot, `parsing a message took over ${PARSE_TIMEOUT_MS} ms`),
        PARSE_TIMEOUT_MS,
      );
      slot.jobs.set(seq, job);
      slot.worker.postMessage({ seq, raw } satisfies ParseRequest);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.slots.map((s) => {
        s.worker.ref(); // keep the process alive until the workers are gone
        return s.worker.terminate();
      }),
    );
  }
}
