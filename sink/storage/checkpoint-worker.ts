// Worker-thread entry: checkpoints the WAL on its own connection, so the
// ingest loop never pays for copying pages into the database file (and the
// fsync that comes with it).
import Database from "better-sqlite3";
import { statSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";

/**
 * Under sustained load a PASSIVE checkpoint never finds the WAL fully copied
 * at a moment the writer could start it over, so the file keeps growing.
 * Past this size a RESTART checkpoint makes the writer wait (briefly: PASSIVE
 * has just copied almost everything) so the WAL starts over and is cut back.
 */
const WAL_RESTART_BYTES = 64 * 1024 * 1024;
/** How long the RESTART waits for the writer before giving up until the next round. */
const RESTART_BUSY_TIMEOUT_MS = 50;

export interface CheckpointWorkerData {
  path: string;
  intervalMs: number;
}

const { path, intervalMs } = workerData as CheckpointWorkerData;
const db = new Database(path);
db.pragma(`busy_timeout = ${RESTART_BUSY_TIMEOUT_MS}`);
const walBytes = (): number => {
  try {
    return statSync(path + "-wal").size;
  } catch {
    return 0;
  }
};
const run = (mode: "PASSIVE" | "RESTART" | "TRUNCATE"): void => {
  try {
    db.pragma(`wal_checkpoint(${mode})`);
  } catch (err) {
    // RESTART/TRUNCATE may find the writer busy; the next round catches up
    if (mode === "PASSIVE") parentPort?.postMessage({ error: (err as Error).message });
  }
};
const timer = setInterval(() => {
  run("PASSIVE");
  if (walBytes() > WAL_RESTART_BYTES) run("RESTART");
}, intervalMs);
parentPort?.on("message", (msg: "stop") => {
  if (msg !== "stop") return;
  clearInterval(timer);
  // leave an idle sink with an empty WAL
  run("TRUNCATE");
  db.close();
  parentPort?.close();
});
