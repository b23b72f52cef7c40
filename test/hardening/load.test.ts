// Load: 1,000 concurrent idle sessions held by the real `tun sink` process
// while normal mail still flows; sessions beyond --max-connections get 421.
// Peak memory (VmHWM) is printed and bounded well under the VM unit's
// MemoryMax=512M. TUN_HARDENING_SCALE=N multiplies the idle sessions.
import { afterAll, beforeAll, expect, test } from "vitest";
import { spawnTestSink, type SpawnedSink } from "../helpers/sink.js";
import { SmtpWire } from "../helpers/smtp-wire.js";
import { procMemoryKiB } from "../helpers/process-memory.js";

const SCALE = Math.max(1, Number(process.env.TUN_HARDENING_SCALE) || 1);
const IDLE_SESSIONS = 1_000 * SCALE;
/** Room above the idle sessions for the mail that must still flow. */
const HEADROOM = 50;
const MAX_CONNECTIONS = IDLE_SESSIONS + HEADROOM;
/** Sessions opened at once while building up the idle crowd. */
const OPEN_BATCH = 100;
const MESSAGES_WHILE_LOADED = 50;
const SENDER_CONCURRENCY = 5;
/** A message while 1,000 sessions sit idle must still be answered about as fast as on an idle sink. */
const MAX_MESSAGE_MS = 1_000;
/** Peak RSS bound: the VM unit caps the sink at 512M. */
const MAX_PEAK_KIB = 400 * 1024;

let sink: SpawnedSink;
const held: SmtpWire[] = [];

beforeAll(async () => {
  sink = await spawnTestSink(["--max-connections", String(MAX_CONNECTIONS), "--idle-timeout", "5m"]);
});
afterAll(async () => {
  for (const w of held) w.close();
  await sink?.stop();
});

async function openGreeted(port: number): Promise<{ w: SmtpWire; code: number; text: string }> {
  const w = await SmtpWire.open({ port });
  const r = await w.reply(15_000);
  return { w, code: r.code, text: r.text };
}

async function sendMessage(port: number, i: number): Promise<{ code: number; ms: number }> {
  const t0 = performance.now();
  const w = await SmtpWire.open({ port });
  try {
    await w.reply();
    await w.command("EHLO load.test");
    await w.command("MAIL FROM:<load@x.test>");
    await w.command(`RCPT TO:<qa${i}@x.test>`);
    await w.command("DATA");
    const r = await w.data(`Subject: under load ${i}\r\n\r\nstill flowing\r\n`);
    return { code: r.code, ms: performance.now() - t0 };
  } finally {
    w.write("QUIT\r\n");
    w.close();
    await w.waitClosed().catch(() => {});
  }
}

test(`${IDLE_SESSIONS} idle sessions held while mail flows; beyond --max-connections: 421`, async () => {
  const pid = sink.child.pid!;
  const before = procMemoryKiB(pid);

  for (let opened = 0; opened < IDLE_SESSIONS; opened += OPEN_BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(OPEN_BATCH, IDLE_SESSIONS - opened) }, () => openGreeted(sink.smtpPort)),
    );
    for (const b of batch) {
      expect(b.code).toBe(220);
      held.push(b.w);
    }
  }
  const loaded = procMemoryKiB(pid);

  // normal mail, a few senders at a time, each message on its own connection
  const results: { code: number; ms: number }[] = [];
  for (let i = 0; i < MESSAGES_WHILE_LOADED; i += SENDER_CONCURRENCY) {
    results.push(
      ...(await Promise.all(
        Array.from({ length: SENDER_CONCURRENCY }, (_, k) => sendMessage(sink.smtpPort, i + k)),
      )),
    );
  }
  expect(results.map((r) => r.code)).toEqual(results.map(() => 250));
  const slowest = Math.max(...results.map((r) => r.ms));
  expect(slowest).toBeLessThan(MAX_MESSAGE_MS);
  const list = (await (await fetch(`${sink.url}/api/v1/messages?subject=under%20load`)).json()) as {
    total: number;
  };
  expect(list.total).toBe(MESSAGES_WHILE_LOADED);

  // fill the headroom and go past it: the rest are told 421 and closed
  const extra = await Promise.all(Array.from({ length: HEADROOM + 30 }, () => openGreeted(sink.smtpPort)));
  const admitted = extra.filter((e) => e.code === 220);
  const refused = extra.filter((e) => e.code === 421);
  expect(admitted.length + refused.length).toBe(extra.length);
  expect(refused.length).toBeGreaterThanOrEqual(30);
  expect(held.length + admitted.length).toBeLessThanOrEqual(MAX_CONNECTIONS);
  expect(refused[0]!.text).toMatch(/421 4\.7\.0 Too many connections/);
  await Promise.all(refused.map((r) => r.w.waitClosed()));
  held.push(...admitted.map((a) => a.w));

  // the held sessions are alive: one answers a command
  expect((await held[0]!.command("NOOP")).code).toBe(250);

  // let a few go: their slots serve mail again
  for (const w of held.splice(0, SENDER_CONCURRENCY * 2)) w.close();
  const deadline = Date.now() + 10_000;
  let after = await sendMessage(sink.smtpPort, 9_999).catch(() => ({ code: 0, ms: 0 }));
  while (after.code !== 250 && Date.now() < deadline) {
    after = await sendMessage(sink.smtpPort, 9_999).catch(() => ({ code: 0, ms: 0 }));
  }
  expect(after.code).toBe(250);

  const peak = procMemoryKiB(pid);
  console.log(
    `[load] ${held.length + SENDER_CONCURRENCY * 2} sessions held, ${refused.length} refused with 421; ` +
      `RSS before ${Math.round(before.rss / 1024)} MiB, with ${IDLE_SESSIONS} idle ${Math.round(loaded.rss / 1024)} MiB; ` +
      `peak (VmHWM) ${Math.round(peak.hwm / 1024)} MiB; slowest message under load ${slowest.toFixed(0)} ms`,
  );
  expect(peak.hwm).toBeLessThan(MAX_PEAK_KIB);
});
