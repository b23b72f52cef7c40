// Starts the sink (store, SMTP, HTTP + stream) and stops it in order.
import { accessSync, constants, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { formatHostPort, type HostPort } from "../protocol/values.js";
import type { Message } from "../protocol/wire.js";
import { MEMORY_DB, type SinkConfig } from "./config.js";
import { startHttp } from "./http/server.js";
import { WaitRegistry } from "./http/wait.js";
import { createLogger } from "./log.js";
import { SharedExtractions } from "./parse/attachments.js";
import { createParser } from "./parse/pool.js";
import { startSmtp } from "./smtp/server.js";
import { BUSY_RETRY_DEADLINE_MS, GroupCommitter } from "./storage/committer.js";
import { createCheckpointer } from "./storage/checkpointer.js";
import { openDatabase } from "./storage/db.js";
import { Pruner } from "./storage/pruner.js";
import { MessageStore, type Incoming } from "./storage/store.js";
import { StreamHub } from "./stream/hub.js";
import { sinkVersion } from "./version.js";

export type { SinkConfig } from "./config.js";

export interface RunningSink {
  smtp: HostPort;
  http: HostPort;
  /** http://host:port of the API. */
  url: string;
  close(): Promise<void>;
}

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Where `--db :memory:` lives: a private folder on a RAM-backed tmpfs when the
 * machine has one, else the temp folder, removed when the sink stops. SQLite's
 * own ":memory:" cannot be used: it is private to one connection, and the sink
 * needs the WAL and more than one connection (the checkpoint and reader threads);
 * the better-sqlite3 build has no URI filenames for a shared in-memory cache.
 */
function ephemeralDbDir(): string {
  let base = tmpdir();
  try {
    accessSync("/dev/shm", constants.W_OK);
    base = "/dev/shm";
  } catch {
    // no writable tmpfs: the ordinary temp folder
  }
  return mkdtempSync(join(base, "tun-sink-"));
}

export async function startSink(config: SinkConfig): Promise<RunningSink> {
  const log = createLogger({ quiet: config.quiet });
  const version = sinkVersion();
  const ephemeralDir = config.dbPath === MEMORY_DB ? ephemeralDbDir() : null;
  const removeEphemeral = (): void => {
    if (ephemeralDir) rmSync(ephemeralDir, { recursive: true, force: true });
  };
  const dbPath = ephemeralDir ? join(ephemeralDir, "sink.db") : config.dbPath;
  let db;
  try {
    db = openDatabase(dbPath);
  } catch (err) {
    removeEphemeral();
    throw err;
  }
  const checkpointer = createCheckpointer(db, dbPath, log);
  const store = new MessageStore(db, (line) => log.error("store", line));
  const waiters = new WaitRegistry(config.maxWaits, (ids, filter) => store.idsAmong(ids, filter));
  const hub = new StreamHub(store, log, version, config.streamPingIntervalMs, config.maxSubscribers);
  const onDeleted = (ids: string[]): void => {
    hub.publishDeleted(ids);
    // a prune with no mail arriving writes WAL too: let the checkpoint thread copy it, not the next commit
    checkpointer.touch();
  };
  const pruner = new Pruner(store, config, log, onDeleted);

  // Listeners hear about a message only after its transaction committed;
  // one failing listener must not keep the others (or the 250) from happening.
  const runListeners = (listeners: (() => void)[]): void => {
    for (const notify of listeners) {
      try {
        notify();
      } catch (err) {
        log.error("store", `a listener failed after a commit: ${(err as Error).message}`);
      }
    }
  };
  const committer = new GroupCommitter(
    store,
    // next turn: bookkeeping nobody is waiting on
    () => runListeners([() => pruner.afterInsert(), () => checkpointer.touch()]),
    // Same turn, right after the 250s: held `wait` requests first (each one small write that a test suite
    // is blocked on), then the stream frames. On the next turn both sat behind a whole poll phase.
    (messages: Message[]) => runListeners([() => waiters.notify(messages), () => hub.publish(messages)]),
    {
      onBusyRetry: (err) =>
        log.error(
          "store",
          `commit refused (${err.message}); retrying for up to ${BUSY_RETRY_DEADLINE_MS} ms`,
        ),
    },
  );

  const parser = createParser(config.parseWorkers, (line) => log.error("store", line));
  const inFlight = new Set<Promise<unknown>>();
  const ingest = (incoming: Incoming): Promise<Message> => {
    const p = parser.parse(incoming.raw).then((parsed) => committer.add(incoming, parsed));
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => {});
    return p;
  };

  const closers: (() => Promise<void> | void)[] = [() => checkpointer.stop(), () => store.close()];
  try {
    const smtp = await startSmtp(config.smtp, {
      maxMessageSizeBytes: config.maxMessageSizeBytes,
      domains: config.domains,
      shutdownGraceMs: config.shutdownGraceMs,
      log,
      ingest,
      limits: config.hardening.limits,
      auth: config.hardening.auth,
      tls: config.hardening.tls.enabled
        ? { files: config.hardening.tls, stateDir: dirname(dbPath), ...config.hardening.tls }
        : undefined,
    });
    closers.unshift(() => smtp.close());
    const http = await startHttp(
      config.http,
      {
        store,
        waiters,
        log,
        version,
        startedAtMs: Date.now(),
        dbBytes: () => fileBytes(dbPath) + fileBytes(dbPath + "-wal"),
        onDeleted,
        onRead: (ids, read) => hub.publishRead(ids, read),
        attachments: new SharedExtractions((raw, attachmentId) =>
          parser.extractAttachment(raw, attachmentId),
        ),
      },
      (req, socket, head, url) => hub.handleUpgrade(req, socket, head, url),
      {
        extraHosts: config.httpHosts,
        corsOrigins: config.corsOrigins,
        maxConnections: config.maxHttpConnections,
      },
    );
    closers.splice(1, 0, () => http.close());

    pruner.kick();
    const url = `http://${formatHostPort(http.address)}`;
    log.info("sink", `smtp listening on ${formatHostPort(smtp.address)}`);
    if (smtp.smtpsAddress) log.info("sink", `smtps listening on ${formatHostPort(smtp.smtpsAddress)}`);
    log.info("sink", `http listening on ${url}`);
    log.info(
      "sink",
      ephemeralDir
        ? `database in memory (${dbPath}, removed when the sink stops)`
        : `database ${dbPath} (${store.messageCount} messages)`,
    );

    let closing: Promise<void> | null = null;
    const close = async (): Promise<void> => {
      // 1. stop accepting SMTP; sessions get the grace period, then 421
      await smtp.close();
      // 2. messages whose DATA already arrived are committed (or answered 451)
      await Promise.allSettled([...inFlight]);
      await committer.drain();
      await pruner.stop();
      await parser.close();
      // 3. HTTP: held waits get 503, subscribers 1001, then the listener closes
      waiters.close();
      hub.close();
      await http.close();
      // 4. the database last (closing the last connection checkpoints and removes the WAL)
      await checkpointer.stop();
      store.close();
      removeEphemeral();
      log.info("sink", "stopped");
    };
    return {
      smtp: smtp.address,
      http: http.address,
      url,
      close: () => (closing ??= close()),
    };
  } catch (err) {
    for (const c of closers) await c();
    await pruner.stop();
    await parser.close();
    hub.close();
    removeEphemeral();
    throw err;
  }
}
