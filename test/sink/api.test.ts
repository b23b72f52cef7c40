// HTTP API v1 against a real sink filled by nodemailer.
import { randomBytes } from "node:crypto";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ApiError, Health, Message, MessageList } from "../../protocol/wire.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { sendRaw } from "../helpers/smtp-wire.js";

let sink: TestSink;
let transport: nodemailer.Transporter;

beforeAll(async () => {
  sink = await startTestSink();
  transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: sink.smtpPort,
    pool: true,
    maxConnections: 2,
  });
});
afterAll(async () => {
  transport?.close();
  await sink?.stop();
});

async function api<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(sink.url + path, init);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function send(opts: nodemailer.SendMailOptions): Promise<string> {
  const info = await transport.sendMail({ from: "sender@shop.test", text: "hello", ...opts });
  return /queued as ([0-9A-Z]{26})$/.exec(info.response)![1]!;
}

describe("content", () => {
  test("a download is named as tun mail save would name it: no path, no control or bidi character", async () => {
    const names = ["invoice\u202egpj.exe", "../../.bashrc", "bell\u0007.txt"];
    const id = await send({
      to: "names@content.test",
      subject: "names",
      attachments: names.map((filename) => ({ filename, content: "x", contentType: "text/plain" })),
    });
    const { body: msg } = await api<Message>(`/api/v1/messages/${id}`);
    // the API reports the sender's name as it is: only the download is renamed
    expect(msg.attachments.map((a) => a.filename)).toEqual(names);
    const served: string[] = [];
    for (const a of msg.attachments) {
      const res = await fetch(`${sink.url}/api/v1/messages/${id}/attachments/${a.id}`);
      served.push(res.headers.get("content-disposition")!);
    }
    expect(served).toEqual([
      `attachment; filename="invoice_gpj.exe"; filename*=UTF-8''invoice_gpj.exe`,
      `attachment; filename="_.._.bashrc"; filename*=UTF-8''_.._.bashrc`,
      `attachment; filename="bell_.txt"; filename*=UTF-8''bell_.txt`,
    ]);
  });

  test("UTF-8 subject and names, HTML with an inline image, attachments retrieved intact", async () => {
    const pdf = randomBytes(34 * 1024);
    const png = randomBytes(2048);
    const id = await send({
      from: { name: "Société Générale", address: "noreply@shop.test" },
      to: [{ name: "Zoë Ångström", address: "zoe@content.test" }],
      cc: "cc@content.test",
      subject: "Bestätigung ✓ — 確認",
      text: "Your code is 482913",
      html: '<p>Your code is <b>482913</b></p><img src="cid:logo@shop">',
      attachments: [
        { filename: "invoice.pdf", content: pdf, contentType: "application/pdf" },
        { filename: "logo.png", content: png, contentType: "image/png", cid: "logo@shop" },
        { filename: "naïve résumé.txt", content: "ünïcödé", contentType: "text/plain; charset=utf-8" },
      ],
    });
    const { body: msg } = await api<Message>(`/api/v1/messages/${id}`);
    expect(msg.subject).toBe("Bestätigung ✓ — 確認");
    expect(msg.from).toEqual({ name: "Société Générale", address: "noreply@shop.test" });
    expect(msg.to).toEqual([{ name: "Zoë Ångström", address: "zoe@content.test" }]);
    expect(msg.cc).toEqual([{ name: "", address: "cc@content.test" }]);
    expect(msg.text?.trim()).toBe("Your code is 482913");
    expect(msg.snippet).toBe("Your code is 482913");
    expect(msg.html).toContain("cid:logo@shop");
    expect(msg.attachmentCount).toBe(3);
    expect(msg.messageId).toMatch(/^<.+>$/);
    expect(msg.date).not.toBeNull();
    expect(msg.headers.find((h) => h.key.toLowerCase() === "subject")).toBeDefined();
    const byName = Object.fromEntries(msg.attachments.map((a) => [a.filename, a]));
    expect(byName["invoice.pdf"]).toMatchObject({
      contentType: "application/pdf",
      size: pdf.length,
      inline: false,
    });
    expect(byName["logo.png"]).toMatchObject({
      contentType: "image/png",
      contentId: "logo@shop",
      inline: true,
    });

    for (const [name, content] of [
      ["invoice.pdf", pdf],
      ["logo.png", png],
      ["naïve résumé.txt", Buffer.from("ünïcödé")],
    ] as const) {
      const res = await fetch(`${sink.url}/api/v1/messages/${id}/attachments/${byName[name]!.id}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain(byName[name]!.contentType.split(";")[0]);
      expect(res.headers.get("content-disposition")).toContain(
        `filename*=UTF-8''${encodeURIComponent(name)}`,
      );
      expect(Buffer.from(await res.arrayBuffer()).equals(content)).toBe(true);
    }

    const html = await fetch(`${sink.url}/api/v1/messages/${id}/html`);
    expect(html.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await html.text()).toContain(`src="/api/v1/messages/${id}/attachments/${byName["logo.png"]!.id}"`);
    const text = await fetch(`${sink.url}/api/v1/messages/${id}/text`);
    expect((await text.text()).trim()).toBe("Your code is 482913");

    const list = await api<MessageList>(`/api/v1/messages?to=zoe@content.test`);
    expect(list.body.messages[0]).toMatchObject({ id, attachmentCount: 3, subject: "Bestätigung ✓ — 確認" });
    expect(list.body.messages[0]).not.toHaveProperty("html");
  });

  test("raw retrieval is byte-exact, including dot-stuffed lines and CRLF", async () => {
    const body = Buffer.from(
      "Subject: raw\r\nX-Odd:   spaced  \r\n\r\n.leading dot\r\n..two dots\r\nend\r\n",
    );
    const reply = await sendRaw(sink.smtpPort, "raw@x.test", ["raw@content.test"], body);
    const id = reply.text.slice(-26);
    const res = await fetch(`${sink.url}/api/v1/messages/${id}/raw`);
    expect(res.headers.get("content-type")).toBe("message/rfc822");
    expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true);
    const msg = (await api<Message>(`/api/v1/messages/${id}`)).body;
    expect(msg.size).toBe(body.length);
    expect((await api<ApiError>(`/api/v1/messages/${id}/html`)).status).toBe(404);
  });
});

describe("filters, paging and deletes", () => {
  const ids: string[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 5; i++) {
      ids.push(
        await send({
          from: i % 2 ? "alerts@bank.filter.test" : "news@paper.filter.test",
          to: i < 3 ? `qa+${i}@api.flt.test` : `ops@flt.test`,
          subject: `Filter number ${i} ${i === 4 ? "Zebra" : ""}`,
          text: i === 2 ? "the quick brown fox" : "nothing to see",
        }),
      );
    }
  });

  test("to= matches an exact address or a domain with its subdomains; from= too", async () => {
    expect(
      (await api<MessageList>("/api/v1/messages?to=qa%2B1@api.flt.test")).body.messages.map((m) => m.id),
    ).toEqual([ids[1]]);
    expect((await api<MessageList>("/api/v1/messages?to=QA%2B1@API.flt.test")).body.total).toBe(1);
    expect((await api<MessageList>("/api/v1/messages?to=@flt.test")).body.total).toBe(5);
    expect((await api<MessageList>("/api/v1/messages?to=@api.flt.test")).body.total).toBe(3);
    expect((await api<MessageList>("/api/v1/messages?to=@lt.test")).body.total).toBe(0);
    expect((await api<MessageList>("/api/v1/messages?from=@filter.test&to=@flt.test")).body.total).toBe(5);
    expect((await api<MessageList>("/api/v1/messages?from=alerts@bank.filter.test")).body.total).toBe(2);
  });

  test("newest first, subject substring, q full text, since id/time, limit and cursor", async () => {
    const all = (await api<MessageList>("/api/v1/messages?to=@flt.test")).body;
    expect(all.messages.map((m) => m.id)).toEqual([...ids].reverse());
    expect((await api<MessageList>("/api/v1/messages?subject=zEBRA")).body.messages.map((m) => m.id)).toEqual(
      [ids[4]],
    );
    expect((await api<MessageList>("/api/v1/messages?q=QUICK%20fox")).body.messages.map((m) => m.id)).toEqual(
      [ids[2]],
    );
    expect(
      (await api<MessageList>("/api/v1/messages?q=bro&to=@flt.test")).body.messages.map((m) => m.id),
    ).toEqual([ids[2]]);
    expect(
      (await api<MessageList>(`/api/v1/messages?to=@flt.test&since=${ids[2]}`)).body.messages.map(
        (m) => m.id,
      ),
    ).toEqual([ids[4], ids[3]]);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await api<MessageList>(`/api/v1/messages?since=${future}`)).body.total).toBe(0);
    const p1 = (await api<MessageList>("/api/v1/messages?to=@flt.test&limit=2")).body;
    expect(p1.messages.map((m) => m.id)).toEqual([ids[4], ids[3]]);
    expect(p1.total).toBe(5);
    const p2 = (await api<MessageList>(`/api/v1/messages?to=@flt.test&limit=2&cursor=${p1.nextCursor}`)).body;
    expect(p2.messages.map((m) => m.id)).toEqual([ids[2], ids[1]]);
    const p3 = (await api<MessageList>(`/api/v1/messages?to=@flt.test&limit=2&cursor=${p2.nextCursor}`)).body;
    expect(p3.messages.map((m) => m.id)).toEqual([ids[0]]);
    expect(p3.nextCursor).toBeNull();
  });

  test("bad parameters get a 400 JSON error naming the parameter", async () => {
    for (const q of ["limit=0", "limit=abc", "since=yesterday-ish", "cursor=nope", "to=a%20b"]) {
      const { status, body } = await api<ApiError>(`/api/v1/messages?${q}`);
      expect(status, q).toBe(400);
      expect(body.error.code).toBe("bad_request");
      expect(body.error.message).toContain(q.split("=")[0]);
    }
    const missing = await api<ApiError>("/api/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV");
    expect(missing).toEqual({
      status: 404,
      body: { error: { code: "not_found", message: expect.any(String) } },
    });
    expect((await api<ApiError>("/api/v1/nope")).body.error.code).toBe("not_found");
    expect((await api<ApiError>("/api/v1/health", { method: "POST" })).body.error.code).toBe(
      "method_not_allowed",
    );
  });

  test("DELETE by id, DELETE by filter deletes only what matches", async () => {
    const del = await api<{ deleted: number }>(`/api/v1/messages/${ids[0]}`, { method: "DELETE" });
    expect(del).toEqual({ status: 200, body: { deleted: 1 } });
    expect((await api<ApiError>(`/api/v1/messages/${ids[0]}`)).status).toBe(404);
    expect((await api<ApiError>(`/api/v1/messages/${ids[0]}`, { method: "DELETE" })).status).toBe(404);
    const byTo = await api<{ deleted: number }>("/api/v1/messages?to=@api.flt.test", { method: "DELETE" });
    expect(byTo.body.deleted).toBe(2);
    const left = (await api<MessageList>("/api/v1/messages?to=@flt.test")).body;
    expect(left.messages.map((m) => m.id)).toEqual([ids[4], ids[3]]);
    expect((await api<MessageList>("/api/v1/messages?to=zoe@content.test")).body.total).toBe(1);
  });
});

describe("wait", () => {
  test("returns at once when a match is already stored", async () => {
    const id = await send({ to: "stored@wait.test", subject: "already here" });
    const t0 = Date.now();
    const { status, body } = await api<Message>("/api/v1/wait?to=stored@wait.test&timeout=5");
    expect(status).toBe(200);
    expect(body.id).toBe(id);
    expect(body.text?.trim()).toBe("hello");
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  test("holds the request until a matching message arrives", async () => {
    const waiting = api<Message>("/api/v1/wait?to=@later.wait.test&subject=code&timeout=10");
    // a non-matching message must not release it
    await send({ to: "x@later.wait.test", subject: "something else" });
    const id = await send({ to: "user@later.wait.test", subject: "Your CODE" });
    const { status, body } = await waiting;
    expect(status).toBe(200);
    expect(body.id).toBe(id);
  });

  test("since= skips older matches", async () => {
    const first = await send({ to: "since@wait.test", subject: "one" });
    const waiting = api<Message>(`/api/v1/wait?to=since@wait.test&since=${first}&timeout=10`);
    const second = await send({ to: "since@wait.test", subject: "two" });
    expect((await waiting).body.id).toBe(second);
  });

  test("times out with 408 and an error body", async () => {
    const t0 = Date.now();
    const { status, body } = await api<ApiError>("/api/v1/wait?to=nobody@wait.test&timeout=0.3");
    expect(status).toBe(408);
    expect(body.error.code).toBe("timeout");
    expect(body.error.message).toContain("nobody@wait.test");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect((await api<ApiError>("/api/v1/wait?to=a@b.test&timeout=301")).status).toBe(400);
  });
});

test("health and openapi", async () => {
  const { body: h } = await api<Health>("/api/v1/health");
  expect(h).toMatchObject({ status: "ok", version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  expect(h.messages).toBeGreaterThan(0);
  expect(h.dbBytes).toBeGreaterThan(0);
  expect(h.uptimeSeconds).toBeGreaterThanOrEqual(0);
  const { body: doc } = await api<{ openapi: string; paths: Record<string, unknown> }>(
    "/api/v1/openapi.json",
  );
  expect(doc.openapi).toMatch(/^3\./);
  expect(Object.keys(doc.paths)).toEqual(
    expect.arrayContaining([
      "/api/v1/messages",
      "/api/v1/messages/{id}",
      "/api/v1/messages/{id}/raw",
      "/api/v1/messages/{id}/attachments/{attachmentId}",
      "/api/v1/wait",
      "/api/v1/health",
      "/api/v1/stream",
    ]),
  );
});

test("DELETE /api/v1/messages without a filter deletes everything", async () => {
  const { body } = await api<{ deleted: number }>("/api/v1/messages", { method: "DELETE" });
  expect(body.deleted).toBeGreaterThan(0);
  expect((await api<MessageList>("/api/v1/messages")).body.total).toBe(0);
  expect((await api<Health>("/api/v1/health")).body.messages).toBe(0);
});
