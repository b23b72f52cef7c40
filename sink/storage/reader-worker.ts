// Worker-thread entry of the reader: its own read-only connection runs the
// heavy reads, so a slow query never holds the thread that serves SMTP. The
// main thread terminates this worker when a query runs past READ_TIMEOUT_MS
// (better-sqlite3 cannot interrupt a running statement).
import Database from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";
import { runRead, type ReadRequest } from "./reads.js";
import { StatementCache } from "./statements.js";

export interface ReaderData {
  dbPath: string;
  busyTimeoutMs: number;
}

export type ReaderReply =
  | { seq: number; ok: true; result: unknown }
  | { seq: number; ok: false; error: string }
  /** Sent once the connection is open: reads are timed from here on. */
  | { ready: true };

const { dbPath, busyTimeoutMs } = workerData as ReaderData;
const db = new Database(dbPath, { readonly: true, fileMustExist: true });
db.pragma(`busy_timeout = ${busyTimeoutMs}`);
const cache = new StatementCache(db);
parentPort!.postMessage({ ready: true } satisfies ReaderReply);

parentPort!.on("message", ({ seq, req }: { seq: number; req: ReadRequest }) => {
  let reply: ReaderReply;
  try {
    // one read transaction: a list's count and page see the same snapshot
    reply = { seq, ok: true, result: db.transaction(() => runRead(cache, req))() };
  } catch (err) {
    reply = { seq, ok: false, error: (err as Error).message };
  }
  parentPort!.postMessage(reply);
});
