// Worker-thread entry: checkpoints the WAL on its own connection, so the
// ingest loop never pays for copying pages into the database file (and the
// fsync that comes with it).
//
// The WAL starts over (and journal_size_limit cuts the file back) only once
// every frame has been copied. A PASSIVE checkpoint never blocks the writer,
// but under sustained writes it rarely finds nothing left, so the WAL grows.
// A RESTART makes it start over, but it holds the write lock while it copies
// what is left and fsyncs, and on this machine an fsync takes 30-140 ms
// whatever is left to copy: after a lagging PASSIVE the copy was most of the
// WAL (at 1,000,000 stored messages, while pruning, writers waited ~1 s and
// once got "database is locked"); even with 64 frames left, 37-140 ms. So:
// - a RESTART right after a PASSIVE that copied every frame, when nothing was
//   committed since: it has nothing to copy or fsync, and takes no time;
// - otherwise the WAL keeps growing until a quiet moment (the pruner pauses
//   for one while the WAL is long, see pruner.ts);
// - past WAL_FORCE_RESTART_BYTES, a RESTART regardless: one fsync-long wait
//   for the writer per that much WAL, so it never grows without bound.
import Database from "better-sqlite3";
import { statSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";

/** WAL content (frames since it last started over) beyond which the checkpointer restarts it when that is free. */
const WAL_RESTART_BYTES = 64 * 1024 * 1024;
/**
 * Past this the checkpointer restarts the WAL even when that makes the writer
 * wait (see above). Pruning 100,000 of 1,000,000 stored messages while mail
 * keeps arriving writes 0.4 GB of WAL (0.55-0.9 GB when each row was its own
 * statement): at 512 MiB the forced restart fell inside such a prune (2-3 SMTP
 * replies over 100 ms, up to 230 ms); at this size it did not.
 */
const WAL_FORCE_RESTART_BYTES = 1024 * 1024 * 1024;
/** How long the forced RESTART waits for the writer's transaction to end before trying next round. */
const FORCE_RESTART_BUSY_TIMEOUT_MS = 50;
/** WAL file layout (sqlite.org/fileformat2.html#walformat). */
const WAL_HEADER_BYTES = 32;
const WAL_FRAME_HEADER_BYTES = 24;

export interface CheckpointWorkerData {
  path: string;
  intervalMs: number;
}

interface CheckpointResult {
  busy: number;
  /** Frames in the WAL. */
  log: number;
  /** Frames copied into the database so far. */
  checkpointed: number;
}

const { path, intervalMs } = workerData as CheckpointWorkerData;
const db = new Database(path);
const pageBytes = db.pragma("page_size", { simple: true }) as number;
const frameBytes = (frames: number): number => frames * pageBytes;

/** Runs one checkpoint; null when it failed (a RESTART/TRUNCATE that found the writer busy is not a failure). */
const checkpoint = (mode: "PASSIVE" | "RESTART" | "TRUNCATE", busyTimeoutMs = 0): CheckpointResult | null => {
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    return (db.pragma(`wal_checkpoint(${mode})`) as CheckpointResult[])[0] ?? null;
  } catch (err) {
    if (mode === "PASSIVE") parentPort?.postMessage({ error: (err as Error).message });
    return null;
  }
};

/**
 * Frames in the WAL now. Past WAL_RESTART_BYTES the file is exactly as long
 * as its frames: it was cut back to journal_size_limit when the WAL last
 * started over, and the frames have grown beyond that since.
 */
const framesNow = (): number => {
  try {
    const bytes = statSync(path + "-wal").size - WAL_HEADER_BYTES;
    return Math.floor(bytes / (pageBytes + WAL_FRAME_HEADER_BYTES));
  } catch {
    return 0;
  }
};

const round = (): void => {
  const r = checkpoint("PASSIVE");
  if (!r || frameBytes(r.log) <= WAL_RESTART_BYTES) return;
  // r.log was the WAL's end when this PASSIVE began; it copied up to there
  if (r.checkpointed === r.log && framesNow() === r.log) checkpoint("RESTART");
  else if (frameBytes(r.log) > WAL_FORCE_RESTART_BYTES) {
    checkpoint("PASSIVE"); // so what the RESTART copies under the lock is only what came during this one
    checkpoint("RESTART", FORCE_RESTART_BUSY_TIMEOUT_MS);
  }
};

const timer = setInterval(round, intervalMs);

parentPort?.on("message", (msg: "stop") => {
  if (msg !== "stop") return;
  clearInterval(timer);
  // Leave an idle sink with an empty WAL, but only if that costs the writer
  // nothing (the pruner may still be running): TRUNCATE after a PASSIVE that
  // copied everything, without waiting for the write lock.
  const r = checkpoint("PASSIVE");
  if (r && r.log === r.checkpointed) checkpoint("TRUNCATE");
  db.close();
  parentPort?.close();
});
