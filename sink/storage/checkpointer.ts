// Background WAL checkpoints. SQLite's automatic checkpoint runs inside the
// commit that crosses the threshold, on the writer's thread: measured here it
// more than doubled the wall time of ingesting small messages. While the
// worker runs, the writer's connection has wal_autocheckpoint=0 and the
// worker thread checkpoints on a timer (see checkpoint-worker.ts). The worker
// starts with the first commit and stops (truncating the WAL when that costs
// the writer nothing) after a quiet period, so an idle sink does not keep a
// thread around; without it SQLite's automatic checkpoint is back on, so
// writes that are not commits of messages (pruning after a restart, before
// any mail arrived) never grow the WAL unchecked.
// Durability is unchanged: a commit is in the WAL before it returns.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "../log.js";
import type { CheckpointWorkerData } from "./checkpoint-worker.js";
import type { Db } from "./db.js";

/** How often the WAL is checkpointed in the background while messages arrive. */
export const CHECKPOINT_INTERVAL_MS = 500;
/** The checkpoint thread stops after this long without a commit. */
export const CHECKPOINT_IDLE_MS = 30_000;
/** SQLite's default, used while no background thread runs (and if it fails). */
const AUTOCHECKPOINT_PAGES = 1000;

const WORKER_URL = new URL("./checkpoint-worker.js", import.meta.url);

export interface Checkpointer {
  /** Called after each commit. */
  touch(): void;
  stop(): Promise<void>;
}

/**
 * Background checkpoints for `db`. Without the compiled worker (running from
 * TypeScript sources in tests) SQLite's automatic checkpoint stays on.
 */
export function createCheckpointer(db: Db, path: string, log: Logger): Checkpointer {
  if (!existsSync(fileURLToPath(WORKER_URL))) return { touch: () => {}, stop: async () => {} };
  let current: Worker | null = null;
  let failed = false;
  let stopped = false;
  const exiting = new Set<Promise<unknown>>();
  let idleTimer: NodeJS.Timeout | null = null;

  const autocheckpoint = (pages: number): void => {
    try {
      db.pragma(`wal_autocheckpoint = ${pages}`);
    } catch {
      // the database is closing
    }
  };

  const fallBack = (why: string): void => {
    if (failed) return;
    failed = true;
    log.error("store", `background checkpoints stopped (${why}); SQLite checkpoints on commit again`);
    autocheckpoint(AUTOCHECKPOINT_PAGES);
  };

  const retire = (worker: Worker): void => {
    worker.removeAllListeners("exit");
    worker.ref(); // keep the process up until the final checkpoint is done
    const exited = new Promise((resolve) => worker.once("exit", resolve));
    exiting.add(exited);
    void exited.then(() => exiting.delete(exited));
    worker.postMessage("stop");
    if (!failed) autocheckpoint(AUTOCHECKPOINT_PAGES);
  };

  const start = (): Worker => {
    autocheckpoint(0);
    const worker = new Worker(WORKER_URL, {
      workerData: { path, intervalMs: CHECKPOINT_INTERVAL_MS } satisfies CheckpointWorkerData,
    });
    worker.unref();
    worker.on(
      "message",
      (m: { error?: string }) => m.error && log.error("store", `checkpoint failed: ${m.error}`),
    );
    worker.on("error", (err) => fallBack(err.message));
    worker.on("exit", (code) => fallBack(`worker exited with code ${code}`));
    return worker;
  };

  return {
    touch: () => {
      if (failed || stopped) return;
      current ??= start();
      if (idleTimer) idleTimer.refresh();
      else {
        idleTimer = setTimeout(() => {
          idleTimer = null;
          if (current) retire(current);
          current = null;
        }, CHECKPOINT_IDLE_MS);
        idleTimer.unref();
      }
    },
    stop: async () => {
      stopped = true;
      if (idleTimer) clearTimeout(idleTimer);
      if (current) retire(current);
      current = null;
      await Promise.all([...exiting]);
    },
  };
}
