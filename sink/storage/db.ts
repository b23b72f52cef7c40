// Opens the SQLite file and brings its schema up to date with the numbered
// migration files in ./migrations (copied next to the compiled code by the build).
import Database from "better-sqlite3";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), "migrations");
/** How long a statement waits for a lock held by another connection (e.g. a backup tool). */
const BUSY_TIMEOUT_MS = 5_000;
/** The WAL file is cut back to this size after a checkpoint reset it (it only grows otherwise). */
const WAL_SIZE_LIMIT_BYTES = 32 * 1024 * 1024;

export type Db = Database.Database;

export function openDatabase(path: string): Db {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (err) {
    throw new Error(`could not create the folder for the database ${path}: ${(err as Error).message}`);
  }
  let db: Db;
  try {
    db = new Database(path);
  } catch (err) {
    throw new Error(`could not open the database ${path}: ${(err as Error).message}`);
  }
  try {
    // WAL: readers (HTTP API) never block the writer (SMTP ingestion).
    // synchronous=NORMAL: in WAL mode a commit is durable against a process
    // crash (SIGKILL, OOM kill) because the WAL is written before the commit
    // returns; only an OS crash or power loss can drop the last commits. That
    // is the right trade for a test sink: FULL would fsync on every group
    // commit and cap ingestion at the disk's fsync rate.
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    db.pragma("foreign_keys = ON");
    migrate(db);
  } catch (err) {
    db.close();
    throw new Error(`could not prepare the database ${path}: ${(err as Error).message}`);
  }
  return db;
}

/** Applies every migration NNN_name.sql whose number is above PRAGMA user_version, each in its own transaction. */
function migrate(db: Db): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort();
  for (const file of files) {
    const version = Number(file.slice(0, 3));
    if (version <= current) continue;
    const sql = readFileSync(join(MIGRATIONS_DIR, file), "utf8");
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version}`);
    })();
  }
}
