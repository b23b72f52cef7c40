// The client library against a real sink (in-process, temp db, ephemeral ports),
// with mail sent over SMTP by nodemailer.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SinkApiError, SinkClient, SinkTimeoutError, SinkUnreachableError } from "../../client/index.js";
import type { Message } from "../../protocol/wire.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { sendMail, uniqueAddress } from "./send-mail.js";
import { startRelay } from "../helpers/relay.js";
import { waitUntil } from "../helpers/poll.js";

let sink: TestSink;
let client: SinkClient;

beforeAll(async () => {
  sink = await startTestSink();
  client = new SinkClient(sink.url);
});
afterAll(async () => {
  await sink?.stop();
});

const send = (to: string | string[], subject: string, extra: { text?: string; html?: string } = {}) =>
  sendMail(sink.smtpPort, { to, subject, text: extra.text ?? `body of ${subject}`, html: extra.html });

/** Consumes a stream in the background, exposing what arrived so far. */
function consume(stream: AsyncIterable<Message>) {
  const got: Message[] = [];
  let error: unknown = null;
  const done = (async () => {
    try {
      for await (const m of stream) got.push(m);
    } catch (err) {
      error = err;
    }
  })();
  return {
    got,
    ids: () => got.map((m) => m.id),
    error: () => error,
    done,
    waitFor: (n: number, what = `${n} messages`) => waitUntil(what, () => got.length >= n || error !== null),
  };
}

function connectedSignal() {
  let resolve!: () => void;
  const connected = new Promise<void>((r) => (resolve = r));
  return { connected, onConnected: () => resolve() };
}

describe("REST calls", () => {
  test("list, get, raw, health and delete", async () => {
    const to = uniqueAddress("rest");
    const first = await send(to, "first");
    const second = await send(to, "second", { html: "<p>hello <b>there</b></p>" });

    const list = await client.list({ to });
    expect(list.messages.map((m) => m.id)).toEqual([second, first]); // newest first
    expect(list.total).toBe(2);
    expect((await client.list({ to, subject: "SECOND" })).messages.map((m) => m.id)).toEqual([second]);
    expect((await client.list({ to, limit: 1 })).messages).toHaveLength(1);

    const msg = await client.get(second);
    expect(msg.subject).toBe("second");
    expect(msg.html).toContain("<b>there</b>");
    expect(msg.envelope.to).toEqual([to]);

    const health = await client.health();
    expect(health.status).toBe("ok");
    expect(health.messages).toBeGreaterThanOrEqual(2);

    expect(await client.delete({ id: first })).toEqual({ deleted: 1 });
    const gone = await client.get(first).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(SinkApiError);
    expect(gone).toMatchObject({ code: "not_found", status: 404 });
    expect(await client.delete({ to })).toEqual({ deleted: 1 });
    expect((await client.list({ to })).total).toBe(0);
  });

  test("raw returns the exact bytes sent, 8-bit body included", async () => {
    const to = uniqueAddress("raw");
    const raw = Buffer.from(
      `From: a@shop.test\r\nTo: ${to}\r\nSubject: raw\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `Content-Transfer-Encoding: 8bit\r\n\r\nGrüße, ÿ and a .dot line:\r\n.\r\n..two\r\n`,
      "utf8",
    );
    const id = await sendRaw(to, raw);
    expect((await client.raw(id)).equals(raw)).toBe(true);
  });

  test("delete by filter removes only the matching messages", async () => {
    const mine = uniqueAddress("mine");
    const theirs = uniqueAddress("theirs");
    await send(mine, "a");
    await send(mine, "b");
    const keep = await send(theirs, "c");
    expect(await client.delete({ to: mine })).toEqual({ deleted: 2 });
    expect((await client.list({ to: theirs })).messages.map((m) => m.id)).toEqual([keep]);
  });
});

async function sendRaw(to: string, raw: Buffer): Promise<string> {
  const { default: nodemailer } = await import("nodemailer");
  const t = nodemailer.createTransport({ host: "127.0.0.1", port: sink.smtpPort, ignoreTLS: true });
  try {
    const info = await t.sendMail({ envelope: { from: "a@shop.test", to: [to] }, raw });
    return /queued as (\S+)/.exec(info.response)![1]!;
  } finally {
    t.close();
  }
}

describe("waitFor", () => {
  test("returns a message already stored at once", async () => {
    const to = uniqueAddress("stored");
    const id = await send(to, "already here");
    const started = Date.now();
    const msg = await client.waitFor({ to, timeoutMs: 20_000 });
    expect(msg.id).toBe(id);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test("waits for a message that arrives later, matching subject", async () => {
    const to = uniqueAddress("later");
    const waiting = client.waitFor({ to, subject: "code", timeoutMs: 20_000 });
    await send(to, "not this one");
    const id = await send(to, "Your CODE is 1234");
    const msg = await waiting;
    expect(msg.id).toBe(id);
  });

  test("rejects with SinkTimeoutError naming what it waited for", async () => {
    const to = uniqueAddress("never");
    const err = await client.waitFor({ to, subject: "nope", timeoutMs: 1_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkTimeoutError);
    expect((err as Error).message).toBe(
      `no message to ${to} with subject containing "nope" arrived within 1s`,
    );
  });
});

describe("unreachable sink", () => {
  test("connection refused", async () => {
    const port = await closedPort();
    const c = new SinkClient(`http://127.0.0.1:${port}`);
    const err = await c.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkUnreachableError);
    expect((err as Error).message).toBe(
      `cannot reach the sink at http://127.0.0.1:${port}: connection refused`,
    );
    const s = consume(c.stream());
    await s.done;
    expect(s.error()).toBeInstanceOf(SinkUnreachableError);
    expect((s.error() as Error).message).toContain("connection refused");
  });

  test("host not found", async () => {
    const err = await new SinkClient("http://no-such-host.invalid:8025").health().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkUnreachableError);
    expect((err as Error).message).toMatch(
      /^cannot reach the sink at http:\/\/no-such-host\.invalid:8025: host not found/,
    );
  });

  test("a sink that accepts but never answers times out", async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const c = new SinkClient(`http://127.0.0.1:${port}`, { requestTimeoutMs: 300 });
      const err = await c.list().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SinkUnreachableError);
      expect((err as Error).message).toBe(`cannot reach the sink at http://127.0.0.1:${port}: timed out`);
    } finally {
      silent.close();
      silent.unref();
    }
  });
});

test("a sink that drops the connection half-way through a body is unreachable, not a parse error", async () => {
  // headers promise 1,000 bytes, 10 arrive, then the socket closes
  const dropper = net.createServer((socket) => {
    socket.once("data", () =>
      socket.end(
        'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"messages',
      ),
    );
  });
  await new Promise<void>((r) => dropper.listen(0, "127.0.0.1", r));
  const port = (dropper.address() as net.AddressInfo).port;
  try {
    const err = await new SinkClient(`http://127.0.0.1:${port}`).list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkUnreachableError);
    expect((err as Error).message).toBe(
      `cannot reach the sink at http://127.0.0.1:${port}: connection reset`,
    );
  } finally {
    dropper.close();
  }
});

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("stream", () => {
  test("without since: only new messages, in order, filtered by to", async () => {
    const domain = `d${Date.now().toString(36)}.test`;
    const exact = uniqueAddress("exact");
    await send(`old@${domain}`, "stored before connecting");
    const controller = new AbortController();
    const { connected, onConnected } = connectedSignal();
    const s = consume(client.stream({ to: [`@${domain}`, exact], signal: controller.signal, onConnected }));
    await connected;
    const a = await send(`a@${domain}`, "a");
    await send(uniqueAddress("other"), "not mine");
    const b = await send(`x@sub.${domain}`, "b (subdomain)");
    const c = await send(exact, "c (exact)");
    const last = await send(`z@${domain}`, "sentinel");
    await s.waitFor(4);
    expect(s.ids()).toEqual([a, b, c, last]);
    controller.abort();
    await s.done;
    expect(s.error()).toBeNull();
  });

  test("since replays what is stored after it, then continues live without gap or duplicate", async () => {
    const to = uniqueAddress("since");
    const first = await send(to, "1");
    const stored = [await send(to, "2"), await send(to, "3")];
    const controller = new AbortController();
    const { connected, onConnected } = connectedSignal();
    const s = consume(client.stream({ to, since: first, signal: controller.signal, onConnected }));
    await connected;
    const live = [await send(to, "4"), await send(to, "5")];
    await s.waitFor(4);
    expect(s.ids()).toEqual([...stored, ...live]);
    expect(s.got[0]!.subject).toBe("2");
    controller.abort();
    await s.done;
  });

  test("resumes after forced disconnects: nothing missed, nothing twice, one notice per outage", async () => {
    const proxy = await startRelay(sink.httpPort);
    const to = uniqueAddress("resume");
    const events: string[] = [];
    const controller = new AbortController();
    const { connected, onConnected } = connectedSignal();
    const s = consume(
      new SinkClient(`http://127.0.0.1:${proxy.port}`).stream({
        to,
        signal: controller.signal,
        onConnected,
        onReconnecting: () => events.push("reconnecting"),
        onReconnected: () => events.push("reconnected"),
      }),
    );
    try {
      await connected;
      const sent = [await send(to, "before")];
      await s.waitFor(1);

      proxy.refuse();
      await waitUntil("the reconnecting notice", () => events.length === 1);
      sent.push(await send(to, "during 1"), await send(to, "during 2"));
      // Let the client fail several retries, to show the notice is per outage, not per try.
      await waitUntil("three refused retries", () => proxy.refused() >= 3);
      proxy.resume();
      await waitUntil("the reconnected notice", () => events.length === 2);
      sent.push(await send(to, "after"));
      await s.waitFor(4);

      // A second outage gets its own (single) notice.
      proxy.refuse();
      sent.push(await send(to, "during second outage"));
      await waitUntil("two refused retries", () => proxy.refused() >= 5);
      proxy.resume();
      sent.push(await send(to, "after second outage"));
      await s.waitFor(6);

      expect(s.ids()).toEqual(sent);
      expect(events).toEqual(["reconnecting", "reconnected", "reconnecting", "reconnected"]);
      expect(s.error()).toBeNull();
    } finally {
      controller.abort();
      await s.done;
      await proxy.stop();
    }
  });

  test("on an empty sink, mail that arrives during an outage before the first message is not missed", async () => {
    const empty = await startTestSink();
    const proxy = await startRelay(empty.httpPort);
    const controller = new AbortController();
    const { connected, onConnected } = connectedSignal();
    let reconnecting = 0;
    const s = consume(
      new SinkClient(`http://127.0.0.1:${proxy.port}`).stream({
        signal: controller.signal,
        onConnected,
        onReconnecting: () => reconnecting++,
      }),
    );
    try {
      await connected; // hello.lastId is null: nothing stored yet
      proxy.refuse();
      await waitUntil("the reconnecting notice", () => reconnecting === 1);
      const during = await sendMail(empty.smtpPort, { to: "a@x.test", subject: "during", text: "1" });
      proxy.resume();
      await s.waitFor(1);
      const after = await sendMail(empty.smtpPort, { to: "a@x.test", subject: "after", text: "2" });
      await s.waitFor(2);
      expect(s.ids()).toEqual([during, after]);
    } finally {
      controller.abort();
      await s.done;
      await proxy.stop();
      await empty.stop();
    }
  });

  test("breaking out of the loop closes the stream", async () => {
    const to = uniqueAddress("break");
    const first = await send(to, "one");
    for await (const m of client.stream({ to, since: "0".repeat(26) })) {
      expect(m.id).toBe(first);
      break;
    }
  });
});
