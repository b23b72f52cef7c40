// Durability: many concurrent SMTP sessions against the real `tun sink`
// process, which is SIGKILLed several times mid-load and restarted on the same
// database. Every message that got a 250 must be there afterwards with the
// exact bytes (compared by SHA-256), and SQLite's integrity check must pass.
//
// Size: TUN_HARDENING_SCALE=N (default 1) multiplies the kills, the senders
// and the messages per round; the default runs in well under a minute.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, expect, test } from "vitest";
import { spawnTestSink, type SpawnedSink } from "../helpers/sink.js";
import { waitUntil } from "../helpers/poll.js";
import { SmtpWire } from "../helpers/smtp-wire.js";
import { sha256 } from "./hardened-sink.js";

const SCALE = Math.max(1, Number(process.env.TUN_HARDENING_SCALE) || 1);
/** SIGKILLs, each followed by a restart on the same database. */
const KILLS = 5 * SCALE;
/** Concurrent sending sessions. */
const SENDERS = 16 * SCALE;
/** Messages answered 250 in a round before its kill. */
const ACCEPTED_PER_ROUND = 150 * SCALE;
/** Every this-many-th message is over 64 KiB, so it is parsed in a worker thread. */
const LARGE_EVERY = 10;

const dir = mkdtempSync(join(tmpdir(), "tun-durability-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A message with a unique, partly binary (8-bit) body. */
function makeMessage(tag: string, large: boolean): Buffer {
  const head = `Subject: durable ${tag}\r\nFrom: load@x.test\r\nTo: qa@x.test\r\nContent-Type: application/octet-stream\r\n\r\n`;
  // base64 keeps the body to printable lines; the 8-bit line checks that bytes survive as bytes
  const payload = randomBytes(large ? 80 * 1024 : 2 * 1024)
    .toString("base64")
    .replace(/.{76}/g, "$&\r\n");
  return Buffer.concat([
    Buffer.from(head),
    Buffer.from(payload + "\r\n"),
    Buffer.from([0xe9, 0xff, 0x0d, 0x0a]),
  ]);
}

/**
 * One sender: a session that sends message after message (RSET-free, a new
 * MAIL per message) and reconnects when its session ends, until stopped.
 */
async function sender(
  id: number,
  port: () => number,
  running: () => boolean,
  accepted: Map<string, string>,
  counters: { sent: number; failed: number; inData: number },
): Promise<void> {
  let n = 0;
  while (running()) {
    let w: SmtpWire | null = null;
    try {
      w = await SmtpWire.open({ port: port() });
      if ((await w.reply()).code !== 220) throw new Error("no greeting");
      await w.command("EHLO load.test");
      // a few messages per session, then a new connection (both patterns are common)
      for (let k = 0; k < 5 && running(); k++) {
        const body = makeMessage(`${id}-${n++}`, n % LARGE_EVERY === 0);
        if ((await w.command("MAIL FROM:<load@x.test>")).code !== 250) break;
        if ((await w.command("RCPT TO:<qa@x.test>")).code !== 250) break;
        if ((await w.command("DATA")).code !== 354) break;
        counters.sent++;
        counters.inData++;
        const r = await w.data(body, 20_000).finally(() => counters.inData--);
        if (r.code === 250) accepted.set(/queued as (\S+)/.exec(r.text)![1]!, sha256(body));
      }
      w.write("QUIT\r\n");
    } catch {
      // the kill took the connection down: whatever was in flight got no 250
      counters.failed++;
    } finally {
      w?.close();
    }
  }
}

test(`every message answered 250 survives ${KILLS} SIGKILLs under ${SENDERS} concurrent sessions`, async () => {
  const dbPath = join(dir, "sink.db");
  const accepted = new Map<string, string>();
  const counters = { sent: 0, failed: 0, inData: 0 };
  let killedInData = 0;
  let sink: SpawnedSink | null = null;
  const started = Date.now();

  for (let round = 0; round < KILLS; round++) {
    sink = await spawnTestSink([], { dbPath });
    const current = sink;
    let running = true;
    const before = accepted.size;
    const senders = Array.from({ length: SENDERS }, (_, i) =>
      sender(
        round * SENDERS + i,
        () => current.smtpPort,
        () => running,
        accepted,
        counters,
      ),
    );
    await waitUntil(
      `${ACCEPTED_PER_ROUND} messages accepted in round ${round + 1}, with messages in flight`,
      () => accepted.size - before >= ACCEPTED_PER_ROUND && counters.inData >= SENDERS / 4,
      30_000,
    );
    // killed while every sender is mid-session and at least a quarter are sending or awaiting a DATA reply
    killedInData += counters.inData;
    current.kill("SIGKILL");
    running = false;
    await Promise.all(senders);
    await current.stop();
    expect(current.child.signalCode).toBe("SIGKILL");
  }

  // restart once more and check every acknowledged message, byte for byte
  sink = await spawnTestSink([], { dbPath });
  try {
    const missing: string[] = [];
    const corrupt: string[] = [];
    for (const [id, hash] of accepted) {
      const res = await fetch(`${sink.url}/api/v1/messages/${id}/raw`);
      if (res.status !== 200) {
        missing.push(id);
        continue;
      }
      if (sha256(Buffer.from(await res.arrayBuffer())) !== hash) corrupt.push(id);
    }
    expect(missing, "messages answered 250 but missing after the kills").toEqual([]);
    expect(corrupt, "messages whose raw bytes changed").toEqual([]);
    const health = (await (await fetch(`${sink.url}/api/v1/health`)).json()) as { messages: number };
    // a message can be committed and then lose its 250 to the kill: the store may hold more, never less
    expect(health.messages).toBeGreaterThanOrEqual(accepted.size);
    console.log(
      `[durability] ${KILLS} SIGKILLs, ${SENDERS} senders: ${counters.sent} messages sent, ${accepted.size} answered 250 ` +
        `and all present byte for byte; ${health.messages} stored; ${killedInData} messages in DATA at the kills, ` +
        `${counters.failed} sessions cut; ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    await sink.stop();
  }
  const db = new Database(dbPath, { readonly: true });
  try {
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
  } finally {
    db.close();
  }
});
