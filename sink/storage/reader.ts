// Heavy reads off the SMTP thread. One worker thread with its own read-only
// connection runs them one at a time; a read not answered within
// READ_TIMEOUT_MS of its request (waiting included) is abandoned: the caller
// gets ReadAbandoned (HTTP 503) and, if it is running, the worker is
// terminated and a new one started at once, since better-sqlite3 cannot
// interrupt a statement. The worker starts with the sink (loading SQLite into
// a new thread took seconds on a loaded machine) and stops after
// READER_IDLE_MS without a read.
// Without a compiled worker (tests running the TypeScript sources) or for an
// in-memory database, reads run on the main connection.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { ReadRequest, ReadResults } from "./reads.js";
import type { ReaderData, ReaderReply } from "./reader-worker.js";

/** A read not answered this long after it was asked (waiting included) is abandoned. */
export const READ_TIMEOUT_MS = 2_000;
/** The worker is stopped after this long without a read (it costs ~15 MB). */
export const READER_IDLE_MS = 60_000;
/** Reads waiting for the worker; beyond this a read is refused at once. */
export const READ_QUEUE_MAX = 1_000;

export class ReadAbandoned extends Error {}

const WORKER_URL = new URL("./reader-worker.js", import.meta.url);

interface Job {
  seq: number;
  req: ReadRequest;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

type Kind = ReadRequest["kind"];

export class Reader {
  private worker: Worker | null = null;
  /** The worker has opened its connection. */
  private ready = false;
  private running: Job | null = null;
  private readonly queue: Job[] = [];
  private seq = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly useWorker: boolean;

  constructor(
    private readonly dbPath: string,
    /** Runs a read on the main connection (no worker). */
    private readonly inPlace: (req: ReadRequest) => unknown,
    private readonly onProblem: (line: string) => void,
  ) {
    this.useWorker = dbPath !== ":memory:" && dbPath !== "" && existsSync(fileURLToPath(WORKER_URL));
  }

  /** Worker threads in use (0: reads run on the main thread). */
  get threads(): number {
    return this.useWorker ? 1 : 0;
  }

  /** Runs `req`; abandoned after `timeoutMs` (READ_TIMEOUT_MS, or what is left of a request's shared budget). */
  run<K extends Kind>(
    req: Extract<ReadRequest, { kind: K }>,
    timeoutMs: number = READ_TIMEOUT_MS,
  ): Promise<ReadResults[K]> {
    if (this.closed) return Promise.reject(new ReadAbandoned("the sink is shutting down"));
    // a budget already spent (a q= read that waited for the full-text index) never starts the
    // worker on a read it would have to terminate at once
    if (timeoutMs <= 0) {
      return Promise.reject(
        new ReadAbandoned(`the query ran over ${READ_TIMEOUT_MS / 1000} s and was abandoned`),
      );
    }
    if (!this.useWorker) return Promise.resolve().then(() => this.inPlace(req) as ReadResults[K]);
    if (this.queue.length >= READ_QUEUE_MAX) {
      return Promise.reject(new ReadAbandoned(`${READ_QUEUE_MAX} reads are already waiting`));
    }
    return new Promise((resolve, reject) => {
      const job: Job = {
        seq: ++this.seq,
        req,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: setTimeout(() => this.abandon(job), timeoutMs),
      };
      this.queue.push(job);
      this.pump();
    });
  }

  /** Starts the worker ahead of the first read (it retires again after READER_IDLE_MS without one). */
  warm(): void {
    if (!this.useWorker || this.closed || this.worker) return;
    this.worker = this.spawn();
    this.scheduleIdle();
  }

  private spawn(): Worker {
    const data: ReaderData = { dbPath: this.dbPath, busyTimeoutMs: READ_TIMEOUT_MS };
    const worker = new Worker(WORKER_URL, { workerData: data });
    worker.unref();
    worker.on("message", (reply: ReaderReply) => {
      if ("ready" in reply) {
        this.ready = true;
        return this.pump();
      }
      const job = this.running;
      if (!job || job.seq !== reply.seq) return;
      this.running = null;
      clearTimeout(job.timer);
      if (reply.ok) job.resolve(reply.result);
      else job.reject(new Error(reply.error));
      this.pump();
    });
    const failed = (why: string): void => {
      if (this.worker !== worker || this.closed) return;
      this.onProblem(`reader worker ${why}; starting a new one`);
      this.worker = null;
      this.ready = false;
      const job = this.running;
      this.running = null;
      if (job) {
        clearTimeout(job.timer);
        job.reject(new Error(`the reader worker ${why}`));
      }
      this.pump();
    };
    worker.on("error", (err) => failed(`failed: ${err.message}`));
    worker.on("exit", (code) => failed(`exited with code ${code}`));
    return worker;
  }

  private pump(): void {
    if (this.running || this.closed || !this.queue.length) return this.scheduleIdle();
    this.worker ??= this.spawn();
    if (!this.ready) return; // pumped again by its ready message
    const job = this.queue.shift()!;
    this.running = job;
    this.worker.postMessage({ seq: job.seq, req: job.req });
    this.scheduleIdle();
  }

  private scheduleIdle(): void {
    if (this.idleTimer) return void this.idleTimer.refresh();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.running || this.queue.length) return this.scheduleIdle();
      this.stopWorker();
    }, READER_IDLE_MS);
    this.idleTimer.unref();
  }

  private stopWorker(): void {
    const w = this.worker;
    this.worker = null;
    this.ready = false;
    if (!w) return;
    w.removeAllListeners("exit");
    w.removeAllListeners("error");
    void w.terminate();
  }

  private abandon(job: Job): void {
    const why = `the query ran over ${READ_TIMEOUT_MS / 1000} s and was abandoned`;
    if (this.running === job) {
      this.running = null;
      this.onProblem(`a ${job.req.kind} read ran over ${READ_TIMEOUT_MS} ms: terminating the reader worker`);
      this.stopWorker();
      this.worker = this.spawn(); // the next read should not wait for a start
      job.reject(new ReadAbandoned(why));
      this.pump();
      return;
    }
    const i = this.queue.indexOf(job);
    if (i >= 0) this.queue.splice(i, 1);
    job.reject(
      new ReadAbandoned(`the reader was busy for over ${READ_TIMEOUT_MS / 1000} s; try again shortly`),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const job of [...this.queue, ...(this.running ? [this.running] : [])]) {
      clearTimeout(job.timer);
      job.reject(new ReadAbandoned("the sink is shutting down"));
    }
    this.queue.length = 0;
    this.running = null;
    const w = this.worker;
    this.worker = null;
    if (w) {
      w.removeAllListeners("exit");
      w.removeAllListeners("error");
      await w.terminate();
    }
  }
}
