// The delivery queue against a real sink and a real local app: retries with
// backoff, the providers' stop codes, the retry time limit, arrival order,
// and the saved position across a restart.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import { SinkClient } from "@tunmail/client";
import type { DeliveryEvent } from "../../cli/deliver/events.js";
import type { FormatName } from "../../cli/deliver/payload.js";
import { DeliveryPosition } from "../../cli/deliver/position.js";
import { startDelivery, type Delivery } from "../../cli/deliver/queue.js";
import { deliveryTarget } from "../../cli/deliver/target.js";
import { sendMail } from "../client/send-mail.js";
import { waitUntil } from "../helpers/poll.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { deliveredIds, startWebhookApp, type WebhookApp } from "./webhook-app.js";

/** Fast retries so the suite runs in seconds; the code path is the one the defaults take. */
const TIMINGS = { retryMinMs: 50, retryMaxMs: 200, requestTimeoutMs: 2_000 };
const BEFORE_FIRST_ID = "0".repeat(26);

type Attempt = Extract<DeliveryEvent, { event: "attempt" }>;

let sink: TestSink;
let stateDir: string;
const running: Delivery[] = [];
const apps: WebhookApp[] = [];

beforeAll(async () => {
  sink = await startTestSink();
  stateDir = mkdtempSync(join(tmpdir(), "tun-deliver-state-"));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.stop()));
  await Promise.all(apps.splice(0).map((a) => a.close()));
});
afterAll(async () => {
  await sink?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

function uniqueDomain(tag: string): string {
  return `${tag}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}.test`;
}

async function app(): Promise<WebhookApp> {
  const a = await startWebhookApp();
  apps.push(a);
  return a;
}

interface Run {
  events: DeliveryEvent[];
  attempts(id?: string): Attempt[];
  delivery: Delivery;
}

/** Starts delivery of mail to @domain; `fromStart` replays everything stored for it (as a saved position would). */
function deliver(
  domain: string,
  url: string,
  o: { format?: FormatName; retryForMs?: number; scope?: string; fromStart?: boolean } = {},
): Run {
  const scope = o.scope ?? `test:${domain}`;
  const target = deliveryTarget(url, { flag: "--deliver", allowRemote: false });
  if (o.fromStart ?? true) {
    const position = new DeliveryPosition(scope, target.url.toString(), stateDir);
    if (position.load() === null) position.save(BEFORE_FIRST_ID);
  }
  const events: DeliveryEvent[] = [];
  const delivery = startDelivery({
    client: new SinkClient(sink.url),
    to: [`@${domain}`],
    target,
    format: o.format ?? "raw",
    retryForMs: o.retryForMs ?? 60_000,
    scope,
    stateDir,
    timings: TIMINGS,
    onEvent: (e) => events.push(e),
  });
  running.push(delivery);
  const attempts = (id?: string): Attempt[] =>
    events.filter((e): e is Attempt => e.event === "attempt" && (id === undefined || e.id === id));
  return { events, attempts, delivery };
}

function ended(run: Run, id: string): Attempt | undefined {
  return run.attempts(id).find((a) => a.outcome !== "retry");
}

test("500 twice, then 200: three attempts with backoff, the same idempotency header each time", async () => {
  const domain = uniqueDomain("retry");
  const a = await app();
  a.answer(500, 500);
  const id = await sendMail(sink.smtpPort, { to: `in@${domain}`, subject: "retry me", text: "x" });
  const run = deliver(domain, a.url());
  await waitUntil("the delivery", () => ended(run, id));
  expect(run.attempts(id).map((e) => [e.attempt, e.status, e.outcome])).toEqual([
    [1, 500, "retry"],
    [2, 500, "retry"],
    [3, 200, "delivered"],
  ]);
  expect(deliveredIds(a)).toEqual([id, id, id]);
  const [first, second] = run.attempts(id);
  expect(Date.parse(first!.nextAttemptAt!)).toBeGreaterThan(0);
  // Backoff doubles: the second wait is longer than the first.
  expect(Date.parse(second!.nextAttemptAt!) - Date.parse(first!.nextAttemptAt!)).toBeGreaterThanOrEqual(
    TIMINGS.retryMinMs,
  );
});

test("the app is down for a while, then up: everything arrives once, in arrival order", async () => {
  const domain = uniqueDomain("down");
  const a = await app();
  await a.close();
  const ids: string[] = [];
  for (let i = 1; i <= 3; i++) {
    ids.push(await sendMail(sink.smtpPort, { to: `in@${domain}`, subject: `n${i}`, text: String(i) }));
  }
  const run = deliver(domain, a.url());
  await waitUntil("three refused attempts", () => run.attempts().length >= 3);
  expect(run.attempts().every((e) => e.error === "connection refused" && e.outcome === "retry")).toBe(true);
  // Nothing moves past the first message while it is not delivered.
  expect(new Set(run.attempts().map((e) => e.id))).toEqual(new Set([ids[0]]));
  await a.reopen();
  await waitUntil("all three delivered", () => ids.every((id) => ended(run, id)));
  expect(deliveredIds(a)).toEqual(ids);
});

test("Mailgun's 406 and Postmark's 403 end retries; the next message follows", async () => {
  for (const [format, stop] of [
    ["mailgun", 406],
    ["postmark", 403],
  ] as const) {
    const domain = uniqueDomain(format);
    const a = await app();
    a.answer(stop);
    const first = await sendMail(sink.smtpPort, { to: `in@${domain}`, subject: "refused", text: "1" });
    const second = await sendMail(sink.smtpPort, { to: `in@${domain}`, subject: "accepted", text: "2" });
    const run = deliver(domain, a.url(), { format });
    await waitUntil("the second message", () => ended(run, second));
    expect(run.attempts(first).map((e) => [e.status, e.outcome])).toEqual([[stop, "stopped"]]);
    expect(deliveredIds(a)).toEqual([first, second]);
  }
});

test("a 406 is retried for a format whose provider has no such stop code", async () => {
  const domain = uniqueDomain("raw406");
  const a = await app();
  a.answer(503, 406);
  const id = await sendMail(sink.smtpPort, { to: `in@${domain}`, subject: "x", text: "x" });
  const run = deliver(domain, a.url(), { format: "postmark" });
  await waitUntil("the delivery", () => ended(run, id));
  expect(run.attempts(id).map((e) => e.outcome)).toEqual(["retry", "retry", "delivered"]);
});

test("when the retry time is over the message is given up and the next one delivered", async () => {
  const domain = uniqueDomain("giveup");
  const a = await app();
  const first = await sendMail(sink.smtpPort, { to: `in@${domain}`, subject: "doomed", text: "1" });
  const second = await sendMail(sink.smtpPort, { to: `in@${domain}`, subject: "fine", text: "2" });
  // by message, not a queue of answers: the second one's first attempt may come
  // before this test sees the first one given up
  a.answerMessage(first, 500);
  const run = deliver(domain, a.url(), { retryForMs: 400 });
  await waitUntil("giving up", () => ended(run, first), 10_000);
  expect(ended(run, first)!.outcome).toBe("gave_up");
  expect(run.attempts(first).length).toBeGreaterThan(1);
  // The last attempt falls at the end of the retry time, not after it.
  const attempts = run.attempts(first);
  expect(Date.parse(attempts.at(-2)!.nextAttemptAt!) - Date.parse(attempts[0]!.nextAttemptAt!)).toBeLessThan(
    400,
  );
  await waitUntil("the next message", () => ended(run, second));
  expect(ended(run, second)!.outcome).toBe("delivered");
});

test("a restart resumes after the last message delivered: nothing twice, nothing missed", async () => {
  const domain = uniqueDomain("restart");
  const a = await app();
  const first = await sendMail(sink.smtpPort, { to: `in@${domain}`, subject: "one", text: "1" });
  const run = deliver(domain, a.url());
  await waitUntil("the first delivery", () => ended(run, first));
  await run.delivery.stop();
  // Arrives while tun is not running.
  const second = await sendMail(sink.smtpPort, { to: `in@${domain}`, subject: "two", text: "2" });
  const again = deliver(domain, a.url());
  await waitUntil("the second delivery", () => ended(again, second));
  expect(again.events[0]).toMatchObject({ event: "started", after: first });
  expect(deliveredIds(a)).toEqual([first, second]);
});

test("a delivery stopped mid-retry is redone after the restart (at least once)", async () => {
  const domain = uniqueDomain("midretry");
  const a = await app();
  a.answer(500, 500, 500);
  const id = await sendMail(sink.smtpPort, { to: `in@${domain}`, subject: "again", text: "1" });
  const run = deliver(domain, a.url());
  await waitUntil("a failed attempt", () => run.attempts(id).length >= 1);
  await run.delivery.stop();
  const again = deliver(domain, a.url());
  await waitUntil("the delivery", () => ended(again, id)?.outcome === "delivered");
  expect(deliveredIds(a).every((x) => x === id)).toBe(true);
});

test("without a saved position delivery starts with mail arriving from now on", async () => {
  const domain = uniqueDomain("fresh");
  const a = await app();
  const old = await sendMail(sink.smtpPort, { to: `in@${domain}`, subject: "old", text: "0" });
  const run = deliver(domain, a.url(), { fromStart: false });
  await waitUntil("the stream to be up", () => run.events.find((e) => e.event === "started"));
  expect(run.events[0]).toMatchObject({ event: "started", after: null });
  const fresh = await sendMail(sink.smtpPort, { to: `in@${domain}`, subject: "new", text: "1" });
  await waitUntil("the new message to be delivered", () => ended(run, fresh));
  expect(deliveredIds(a)).toEqual([fresh]);
  expect(old).not.toBe(fresh);
});
