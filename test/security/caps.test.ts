// Issue 11: held waits, stream subscribers and HTTP connections are capped
// (small caps here so the test runs in seconds); beyond a cap the sink
// answers 503 with Retry-After or closes the stream with 1013, and SMTP,
// which has its own connection budget, still greets.
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { sendMail } from "../client/send-mail.js";
import { waitUntil } from "../helpers/poll.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { rawRequest, smtpGreetingMs } from "./raw-http.js";

/**
 * A latency bound measured while other test files share the two cores: a
 * genuine stall fails every try, a neighbour's CPU burst fails one. The bound
 * itself stays as the issue states it.
 */
const TIMING_RETRY = { retry: 2 };

/** A greeting this slow would mean HTTP load starves SMTP. */
const GREETING_BUDGET_MS = 200;

describe("caps", () => {
  let sink: TestSink;
  beforeAll(async () => {
    sink = await startTestSink({ maxWaits: 2, maxSubscribers: 2 });
  });
  afterAll(async () => {
    await sink?.stop();
  });

  test("past --max-waits a wait gets 503 with Retry-After, and SMTP still greets", TIMING_RETRY, async () => {
    const to = "held@caps.test";
    const held = [1, 2].map(() => rawRequest(sink.httpPort, `/api/v1/wait?to=${to}&timeout=30`));
    const refused = await waitUntil("the wait cap", async () => {
      const r = await rawRequest(sink.httpPort, `/api/v1/wait?to=other@caps.test&timeout=0`);
      return r.status === 503 ? r : null;
    });
    expect(refused.json.error!.code).toBe("unavailable");
    expect(refused.headers["retry-after"]).toBe("1");
    expect(await smtpGreetingMs(sink.smtpPort)).toBeLessThan(GREETING_BUDGET_MS);
    await sendMail(sink.smtpPort, { to, subject: "release", text: "x" });
    for (const r of await Promise.all(held)) expect(r.status).toBe(200);
    // below the cap again
    expect((await rawRequest(sink.httpPort, `/api/v1/wait?to=other@caps.test&timeout=0`)).status).toBe(408);
  });

  test("past --max-subscribers a new subscriber is closed with 1013", async () => {
    const open = (): Promise<{ ws: WebSocket; first: Promise<string | number> }> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${sink.httpPort}/api/v1/stream`);
        const first = new Promise<string | number>((r) => {
          ws.once("message", (d) => r(JSON.parse(String(d)).type));
          ws.once("close", (code) => r(code));
        });
        ws.once("open", () => resolve({ ws, first }));
        ws.once("error", reject);
      });
    const a = await open();
    const b = await open();
    expect(await a.first).toBe("hello");
    expect(await b.first).toBe("hello");
    const c = await open();
    expect(await c.first).toBe(1013);
    a.ws.close();
    await waitUntil("a slot", async () => {
      const d = await open();
      const got = await d.first;
      d.ws.close();
      return got === "hello";
    });
    b.ws.close();
  });
});

describe("--max-http-connections", () => {
  let sink: TestSink;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    sink = await startTestSink({ maxHttpConnections: 3 });
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await sink?.stop();
  });

  test("past the cap a request gets 503 with Retry-After, and SMTP still greets", TIMING_RETRY, async () => {
    for (let i = 0; i < 3; i++) {
      const s = connect(sink.httpPort, "127.0.0.1");
      await new Promise((r) => s.once("connect", r));
      sockets.push(s);
    }
    const r = await rawRequest(sink.httpPort, "/api/v1/health");
    expect(r.status).toBe(503);
    expect(r.json.error!.code).toBe("unavailable");
    expect(r.headers["retry-after"]).toBe("1");
    expect(await smtpGreetingMs(sink.smtpPort)).toBeLessThan(GREETING_BUDGET_MS);
    for (const s of sockets.splice(0)) s.destroy();
    await waitUntil(
      "a free connection",
      async () => (await rawRequest(sink.httpPort, "/api/v1/health")).status === 200,
    );
  });
});
