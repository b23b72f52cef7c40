// Read state against a real sink: PATCH one, all and filtered; bad bodies get
// a 400 naming the field; the state survives a restart; every subscriber
// hears a `read` frame.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ApiError, MessageList, ReadData, UpdateResult } from "../../protocol/wire.js";
import { SinkClient } from "../../client/sink-client.js";
import { READ_UPDATE_MAX_BYTES } from "../../sink/http/read-state.js";
import { sendMail } from "../client/send-mail.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { Subscriber } from "./stream-client.js";

const dir = mkdtempSync(join(tmpdir(), "tun-read-state-"));
const dbPath = join(dir, "sink.db");
let sink: TestSink;
let client: SinkClient;
const ids: string[] = [];

async function patch(path: string, body: string): Promise<{ status: number; body: UpdateResult & ApiError }> {
  const res = await fetch(sink.url + "/api/v1" + path, {
    method: "PATCH",
    body,
    headers: { "content-type": "application/json" },
  });
  return { status: res.status, body: (await res.json()) as UpdateResult & ApiError };
}

async function readStates(): Promise<Record<string, boolean>> {
  const page: MessageList = await client.list({ limit: 100 });
  return Object.fromEntries(page.messages.map((m) => [m.id, m.read]));
}

beforeAll(async () => {
  sink = await startTestSink({ dbPath });
  client = new SinkClient(sink.url);
  for (const [i, to] of ["a@one.test", "b@one.test", "c@two.test", "d@two.test"].entries()) {
    ids.push(await sendMail(sink.smtpPort, { to, subject: `m${i}`, text: "hello" }));
  }
});
afterAll(async () => {
  await sink?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("PATCH", () => {
  test("new mail is unread, on the list, the message and the stream", async () => {
    expect(Object.values(await readStates())).toEqual([false, false, false, false]);
    expect((await client.get(ids[0]!)).read).toBe(false);
  });

  test("one message: read, then unread; an unknown id is 404", async () => {
    expect(await patch(`/messages/${ids[0]}`, '{"read": true}')).toEqual({
      status: 200,
      body: { updated: 1 },
    });
    expect((await readStates())[ids[0]!]).toBe(true);
    // again: still one updated (idempotent)
    expect((await client.markRead(ids[0]!)).updated).toBe(1);
    expect((await client.markRead(ids[0]!, false)).updated).toBe(1);
    expect((await readStates())[ids[0]!]).toBe(false);
    const missing = await patch("/messages/01JD0000000000000000000000", '{"read": true}');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("not_found");
  });

  test.each([
    ["", /not JSON/],
    ["{read: true}", /not JSON/],
    ["[true]", /JSON object/],
    ['{"read": "yes"}', /field "read" must be true or false, got "yes"/],
    ["{}", /field "read" must be true or false, got nothing/],
    ['{"read": true, "starred": true}', /unknown field "starred"/],
  ])("body %s is a 400 naming the field", async (body, message) => {
    const res = await patch(`/messages/${ids[1]}`, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("bad_request");
    expect(res.body.error.message).toMatch(message);
    const bulk = await patch(`/messages`, body);
    expect(bulk.status).toBe(400);
    expect(Object.values(await readStates())).toEqual([false, false, false, false]);
  });

  test(`a body over ${READ_UPDATE_MAX_BYTES} bytes is 413`, async () => {
    const res = await patch("/messages", `{"read": true, "pad": "${"x".repeat(READ_UPDATE_MAX_BYTES)}"}`);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
    expect(Object.values(await readStates())).toEqual([false, false, false, false]);
  });

  test("markAllRead with an empty or undefined filter value throws before any request", async () => {
    await expect(client.markAllRead({ to: "" })).rejects.toThrow(TypeError);
    await expect(client.markAllRead({ search: undefined })).rejects.toThrow(/search is undefined/);
    expect(Object.values(await readStates())).toEqual([false, false, false, false]);
  });

  test("filtered: only the matches; with search=; a bare PATCH marks all", async () => {
    expect(await client.markAllRead({ to: "@two.test" })).toEqual({ updated: 2 });
    let states = await readStates();
    expect(ids.map((id) => states[id])).toEqual([false, false, true, true]);
    expect(await client.markAllRead({ search: "is:read" }, false)).toEqual({ updated: 2 });
    expect(await client.markAllRead({ search: "to:a@one.test" })).toEqual({ updated: 1 });
    states = await readStates();
    expect(ids.map((id) => states[id])).toEqual([true, false, false, false]);
    expect(await client.markAllRead()).toEqual({ updated: 4 });
    expect(Object.values(await readStates())).toEqual([true, true, true, true]);
  });
});

describe("live and durable", () => {
  test("another subscriber hears a read frame with the ids whose state changed", async () => {
    const other = await Subscriber.open(sink.url);
    try {
      await client.markAllRead({ to: "@one.test" }, false);
      await other.until(() => other.frames.some((f) => f.type === "read"), 5_000, "a read frame");
      const frame = other.frames.find((f) => f.type === "read")!;
      const data = frame.data as ReadData;
      expect(data.read).toBe(false);
      expect([...data.ids].sort()).toEqual([ids[0], ids[1]].sort());
      // unchanged state: no frame; a single PATCH that changes one: one frame with that id
      await client.markRead(ids[2]!);
      await client.markRead(ids[1]!);
      await other.until(
        () => other.frames.filter((f) => f.type === "read").length >= 2,
        5_000,
        "second frame",
      );
      const frames = other.frames.filter((f) => f.type === "read").map((f) => f.data as ReadData);
      expect(frames[1]).toEqual({ ids: [ids[1]], read: true });
    } finally {
      other.close();
    }
  });

  test("read state survives a sink restart", async () => {
    const before = await readStates();
    expect(ids.map((id) => before[id])).toEqual([false, true, true, true]);
    await sink.stop();
    sink = await startTestSink({ dbPath });
    client = new SinkClient(sink.url);
    expect(await readStates()).toEqual(before);
  });
});
