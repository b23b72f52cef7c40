// Background WAL checkpoints. SQLite's automatic checkpoint runs inside the
// commit that crosses the threshold, on the writer's thread: measured here it
// more than doubled the wall time of ingesting small messages. With this
// running, the writer's connection has wal_autocheckpoint=0 and a worker
// thread checkpoints (PASSIVE: never blocks the writer) on a timer.
// Durability is unchanged: a commit is in the WAL before it returns.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "../log.js";
import type { CheckpointWorkerData } from "./checkpoint-worker.js";
import type { Db } from "./db.js";

/** How often the WAL is checkpointed in the background. */
export const CHECKPOINT_INTERVAL_MS = 500;

const WORKER_URL = new URL("./checkpoint-worker.js", import.meta.url);

export interface Checkpointer {
  stop(): Promise<void>;
}

/**
 * Starts background checkpoints for `db`. Without the compiled worker (running
 * from TypeScript sources in tests) SQLite's automatic checkpoint stays on.
 */
export function startCheckpointer(db: Db, path: string, log: Logger): Checkpointer {
  if (!existsSync(fileURLToPath(WORKER_URL))) return { stop: async () => {} };
  const worker = new Worker(WORKER_URL, {
    workerData: { path, intervalMs: CHECKPOINT_INTERVAL_MS } satisfies CheckpointWorkerData,
  });
  worker.unref();
  db.pragma("wal_autocheckpoint = 0");
  const fallBack = (why: string): void => {
    log.error("store", `background checkpoints stopped (${why}); SQLite checkpoints on commit again`);
    try {
      db.pragma("wal_autocheckpoint = 1000");
    } catch {
      // the database is closing
    }
  };
  worker.on(
    "message",
    (m: { error?: string }) => m.error && log.error("store", `checkpoint failed: ${m.error}`),
  );
  worker.on("error", (err) => fallBack(err.message));
  let stopping = false;
  worker.on("exit", (code) => {
    if (!stopping) fallBack(`worker exited with code ${code}`);
  });
  return {
    stop: async () => {
      if (stopping) return;
      stopping = true;
      // unref'd while running; without a ref the process could exit in the middle of this await
      worker.ref();
      const exited = new Promise((resolve) => worker.once("exit", resolve));
      worker.postMessage("stop");
      await exited;
    },
  };
}
