// A consumer that falls behind: the client stops reading, the sink sheds it with
// 1013, and the stream resumes from the last message yielded, losing nothing.
import nodemailer from "nodemailer";
import { afterAll, beforeAll, expect, test } from "vitest";
import { SinkClient } from "../../client/index.js";
import { spawnTestSink, type SpawnedSink } from "../helpers/sink.js";
import { uniqueAddress } from "./send-mail.js";
import { waitUntil } from "../helpers/poll.js";

/** Body size of each message: big enough to overflow the socket buffers with tens of messages. */
const BODY_BYTES = 256 * 1024;
/** Upper bound on what we send before the sink must have shed the subscriber (~50 MB). */
const MAX_MESSAGES = 200;
const SHED_LINE = "[stream] subscriber too slow";

let sink: SpawnedSink;
beforeAll(async () => {
  sink = await spawnTestSink(); // a separate process, so its log shows when it sheds us
});
afterAll(async () => {
  await sink?.stop();
});

test("a stalled consumer is shed with 1013 and resumes without loss or duplicates", async () => {
  const to = uniqueAddress("slow");
  const client = new SinkClient(sink.url);
  const controller = new AbortController();
  const reconnects: string[] = [];
  let connected!: () => void;
  const ready = new Promise<void>((r) => (connected = r));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const got: string[] = [];
  const reading = (async () => {
    const stream = client.stream({
      to,
      signal: controller.signal,
      onConnected: connected,
      onReconnecting: (err) => reconnects.push(err.message),
    });
    for await (const m of stream) {
      got.push(m.id);
      if (got.length === 1) await released; // stall: the client stops reading, the sink's buffer grows
    }
  })();

  const smtp = nodemailer.createTransport({
    host: "127.0.0.1",
    port: sink.smtpPort,
    pool: true,
    ignoreTLS: true,
  });
  const sent: string[] = [];
  try {
    await ready;
    const body = "x".repeat(BODY_BYTES - 100).replace(/(.{76})/g, "$1\n");
    while (!sink.output().includes(SHED_LINE)) {
      if (sent.length >= MAX_MESSAGES)
        throw new Error(`the sink never shed the stalled subscriber:\n${sink.output()}`);
      const info = await smtp.sendMail({
        from: "bulk@shop.test",
        to,
        subject: `n${sent.length}`,
        text: body,
      });
      sent.push(/queued as (\S+)/.exec(info.response)![1]!);
    }
    // And some after it was shed, which only the resumed connection can deliver.
    for (let i = 0; i < 3; i++) {
      const info = await smtp.sendMail({ from: "bulk@shop.test", to, subject: `late${i}`, text: "small" });
      sent.push(/queued as (\S+)/.exec(info.response)![1]!);
    }
    release();
    await waitUntil("every message", () => got.length >= sent.length, 30_000);
    expect(got).toEqual(sent);
    expect(reconnects).toHaveLength(1);
    expect(reconnects[0]).toContain("code 1013");
  } finally {
    release();
    smtp.close();
    controller.abort();
    await reading;
  }
});
