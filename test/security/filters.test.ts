// Issue 11: filters mean what they say. Unknown, repeated or empty parameters
// are 400 naming the parameter on every endpoint, a refused DELETE leaves the
// store as it was, and the client throws before it sends a widened filter.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { SinkClient } from "../../client/index.js";
import { sendMail } from "../client/send-mail.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { sendRaw } from "../helpers/smtp-wire.js";
import { rawBytes, rawRequest } from "./raw-http.js";

let sink: TestSink;
let stored: number;
beforeAll(async () => {
  sink = await startTestSink();
  for (const to of ["a@filters.test", "b@filters.test"])
    await sendMail(sink.smtpPort, { to, subject: `to ${to}`, text: "x" });
  stored = await count();
});
afterAll(async () => {
  await sink?.stop();
});

async function count(): Promise<number> {
  const r = await rawRequest(sink.httpPort, "/api/v1/health");
  return r.json.messages as number;
}

describe("the server refuses filters that do not filter", () => {
  const cases: [method: string, path: string, param: string][] = [
    ["DELETE", "/api/v1/messages?to=", "to="],
    ["DELETE", "/api/v1/messages?to=%20", "to="],
    ["DELETE", "/api/v1/messages?To=a@filters.test", "To="],
    ["DELETE", "/api/v1/messages?recipient=a@filters.test", "recipient="],
    ["DELETE", "/api/v1/messages?id=x", "id="],
    ["DELETE", "/api/v1/messages?to=a@filters.test&to=b@filters.test", "to="],
    ["DELETE", "/api/v1/messages?from=", "from="],
    ["DELETE", "/api/v1/messages?subject=", "subject="],
    ["DELETE", "/api/v1/messages?q=", "q="],
    ["DELETE", "/api/v1/messages?since=", "since="],
    ["DELETE", "/api/v1/messages?search=", "search="],
    ["DELETE", "/api/v1/messages?&", ""],
    ["GET", "/api/v1/messages?to=", "to="],
    ["GET", "/api/v1/messages?subject=", "subject="],
    ["GET", "/api/v1/messages?q=", "q="],
    ["GET", "/api/v1/messages?since=", "since="],
    ["GET", "/api/v1/messages?limit=5&limit=6", "limit="],
    ["GET", "/api/v1/messages?page=2", "page="],
    ["GET", "/api/v1/wait?to=&timeout=5", "to="],
    ["GET", "/api/v1/wait?to=a@filters.test&q=x", "q="],
    ["GET", "/api/v1/wait?to=a@filters.test&to=b@filters.test", "to="],
    ["GET", "/api/v1/wait?from=&timeout=5", "from="],
    ["GET", "/api/v1/health?verbose=1", "verbose="],
    ["GET", "/api/v1/messages/01JD0000000000000000000000?x=1", "x="],
  ];
  test.each(cases)("%s %s -> 400 naming %s; the store is unchanged", async (method, path, param) => {
    const started = Date.now();
    const r = await rawRequest(sink.httpPort, path, { method });
    expect(r.status).toBe(400);
    expect(r.json.error!.code).toBe("bad_request");
    if (param) expect(r.json.error!.message).toContain(param);
    expect(Date.now() - started).toBeLessThan(5_000); // a refused wait is not held
    expect(await count()).toBe(stored);
  });

  test("the stream refuses an empty, unknown or repeated parameter before the handshake", async () => {
    for (const q of [
      "to=",
      "since=",
      "recipient=a@filters.test",
      "since=01JD0000000000000000000000&since=01JD0000000000000000000001",
    ]) {
      const status = await new Promise<number | "open">((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${sink.httpPort}/api/v1/stream?${q}`);
        ws.on("open", () => (ws.close(), resolve("open")));
        ws.on("unexpected-response", (_req, res) => (res.resume(), resolve(res.statusCode!)));
        ws.on("error", () => {});
      });
      expect(status, q).toBe(400);
    }
  });

  test("raw non-ASCII bytes in the query get the JSON 400", async () => {
    const req = Buffer.concat([
      Buffer.from("DELETE /api/v1/messages?to="),
      Buffer.from([0xc3, 0xa9, 0xff]),
      Buffer.from(` HTTP/1.1\r\nHost: 127.0.0.1:${sink.httpPort}\r\n\r\n`),
    ]);
    const reply = await rawBytes(sink.httpPort, req);
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(reply).toMatch(/content-type: application\/json/i);
    expect(JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4)).error.code).toBe("bad_request");
    expect(await count()).toBe(stored);
  });

  test("a malformed id is 404 'no message with id …', not 'no such endpoint'", async () => {
    for (const path of [
      "/api/v1/messages/nope",
      "/api/v1/messages/nope/html",
      "/api/v1/messages/..%2f/raw",
    ]) {
      for (const method of ["GET", "DELETE"]) {
        const r = await rawRequest(sink.httpPort, path, { method });
        expect(r.status, `${method} ${path}`).toBe(404);
        expect(r.json.error!.message).toMatch(/^no message with id /);
      }
    }
  });

  test("GET /api/v1/stream without an upgrade is 426 JSON", async () => {
    const r = await rawRequest(sink.httpPort, "/api/v1/stream");
    expect(r.status).toBe(426);
    expect(r.headers.upgrade).toBe("websocket");
    expect(r.json.error!.message).toMatch(/WebSocket/);
  });

  test("an attachment whose declared type holds a control character is served as application/octet-stream", async () => {
    const boundary = "b0undary";
    const mime = [
      "From: a@x.test",
      "To: ctl@filters.test",
      "Subject: ctl",
      "MIME-Version: 1.0",
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      "",
      `--${boundary}`,
      "Content-Type: text/plain",
      "",
      "body",
      `--${boundary}`,
      "Content-Type: text/html\u000b\u0001; name=evil.html",
      "Content-Disposition: attachment; filename=evil.html",
      "",
      "<script>alert(1)</script>",
      `--${boundary}--`,
      "",
    ].join("\r\n");
    const reply = await sendRaw(sink.smtpPort, "a@x.test", ["ctl@filters.test"], mime);
    const id = /queued as (\S+)/.exec(reply.text)![1]!;
    const r = await rawRequest(sink.httpPort, `/api/v1/messages/${id}/attachments/1`);
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("application/octet-stream");
    expect(r.headers["content-disposition"]).toMatch(/^attachment/);
    stored = await count();
  });

  test("only a bare DELETE deletes everything", async () => {
    const r = await rawRequest(sink.httpPort, "/api/v1/messages", { method: "DELETE" });
    expect(r.status).toBe(200);
    expect(r.json.deleted).toBe(stored);
    expect(await count()).toBe(0);
  });
});

describe("the client throws before sending a filter that would widen", () => {
  let server: Server;
  const seen: string[] = [];
  let client: SinkClient;
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "application/json" }).end('{"deleted":0}');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    client = new SinkClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const bad: [string, () => Promise<unknown>, RegExp][] = [
    ["delete({ to: '' })", () => client.delete({ to: "" }), /to must be a non-empty string/],
    ["delete({ to: undefined })", () => client.delete({ to: undefined }), /to is undefined/],
    ["delete({ to: '  ' })", () => client.delete({ to: "  " }), /to must be a non-empty string/],
    [
      "delete({ subject: undefined, to: 'a@x' })",
      () => client.delete({ to: "a@x.test", subject: undefined }),
      /subject is undefined/,
    ],
    ["delete({ To: 'a@x' })", () => client.delete({ To: "a@x.test" } as never), /unknown filter key "To"/],
    [
      "delete({ recipient })",
      () => client.delete({ recipient: "a@x.test" } as never),
      /unknown filter key "recipient"/,
    ],
    ["delete({})", () => client.delete({}), /filter is empty; call delete\(\) with no argument/],
    ["delete({ id: '' })", () => client.delete({ id: "" }), /id must be a message id/],
    ["waitFor({ to: '' })", () => client.waitFor({ to: "" }), /to must be a non-empty string/],
    ["waitFor({ to: undefined })", () => client.waitFor({ to: undefined as never }), /to is undefined/],
    [
      "waitFor({ to, subject: '' })",
      () => client.waitFor({ to: "a@x.test", subject: "" }),
      /subject must be a non-empty string/,
    ],
    [
      "waitFor({ to, subjet })",
      () => client.waitFor({ to: "a@x.test", subjet: "x" } as never),
      /unknown filter key "subjet"/,
    ],
  ];
  test.each(bad)("%s throws and sends nothing", async (_name, call, message) => {
    await expect(call()).rejects.toThrow(message);
    expect(seen).toEqual([]);
  });

  test("delete() with no argument sends a bare DELETE; delete({ to }) sends only that filter", async () => {
    await client.delete();
    await client.delete({ to: "a@x.test" });
    expect(seen).toEqual(["DELETE /api/v1/messages", "DELETE /api/v1/messages?to=a%40x.test"]);
  });
});
