// Worker-thread entry: checkpoints the WAL on its own connection, so the
// ingest loop never pays for copying pages into the database file (and the
// fsync that comes with it).
import Database from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";

export interface CheckpointWorkerData {
  path: string;
  intervalMs: number;
}

const { path, intervalMs } = workerData as CheckpointWorkerData;
const db = new Database(path);
const run = (mode: "PASSIVE" | "TRUNCATE"): void => {
  try {
    db.pragma(`wal_checkpoint(${mode})`);
  } catch (err) {
    // TRUNCATE on the way out may find the writer busy; the next run catches up
    if (mode === "PASSIVE") parentPort?.postMessage({ error: (err as Error).message });
  }
};
const timer = setInterval(() => run("PASSIVE"), intervalMs);
parentPort?.on("message", (msg: "stop") => {
  if (msg !== "stop") return;
  clearInterval(timer);
  // leave an idle sink with an empty WAL
  run("TRUNCATE");
  db.close();
  parentPort?.close();
});
