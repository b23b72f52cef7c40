// search= against a real sink filled over SMTP: every operator narrows the
// list as documented, on GET, DELETE, PATCH and /wait, and bad queries get a
// 400 naming the term.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ApiError, Message, MessageList, Summary } from "../../protocol/wire.js";
import { SinkClient } from "../../client/sink-client.js";
import { sendMail } from "../client/send-mail.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";

let sink: TestSink;
let client: SinkClient;
const D = "search.test";
const ids: Record<string, string> = {};

async function api<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(sink.url + path, init);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

/** Subjects of the messages matching `search` (always within this file's domain). */
async function subjects(search: string): Promise<string[]> {
  const q = new URLSearchParams({ search: `to:@${D} ${search}`, limit: "100" });
  const { status, body } = await api<MessageList & ApiError>(`/api/v1/messages?${q}`);
  expect(status, JSON.stringify(body)).toBe(200);
  return body.messages.map((m: Summary) => m.subject).sort();
}

beforeAll(async () => {
  sink = await startTestSink();
  client = new SinkClient(sink.url);
  ids.welcome = await sendMail(sink.smtpPort, {
    from: "Shop <noreply@shop.test>",
    to: `alice@${D}`,
    subject: "Welcome aboard",
    text: "Your verification code is 482913. Reset your password anytime.",
  });
  ids.invoice = await sendMail(sink.smtpPort, {
    from: "billing@invoices.shop.test",
    to: `bob@${D}`,
    subject: "Invoice December",
    text: "Please find the invoice attached.",
    attachments: [
      { filename: "invoice.pdf", content: Buffer.alloc(150 * 1024, 7), contentType: "application/pdf" },
    ],
  });
  ids.digest = await sendMail(sink.smtpPort, {
    from: "news@letters.example",
    to: [`alice@${D}`, `carol@sub.${D}`],
    subject: "Weekly digest",
    text: "password reset tips and more",
  });
  // a message at a later time than the others, for before:/after:
  ids.late = await sendMail(sink.smtpPort, {
    from: "noreply@shop.test",
    to: `dave@${D}`,
    subject: "Late notice",
    text: "nothing to see",
  });
  // Cc only through the header: a separate transport sets cc
  ids.cc = await sendMail(sink.smtpPort, {
    from: "noreply@shop.test",
    to: [`erin@${D}`],
    subject: "Copied",
    text: "cc test",
    ...({ cc: `frank@cc.${D}` } as object),
  });
});
afterAll(async () => {
  await sink?.stop();
});

describe("each operator narrows the list", () => {
  test("bare words (prefix) and quoted phrases (in order) are full text", async () => {
    expect(await subjects("password")).toEqual(["Weekly digest", "Welcome aboard"]);
    expect(await subjects("passw")).toEqual(["Weekly digest", "Welcome aboard"]);
    expect(await subjects('"reset your password"')).toEqual(["Welcome aboard"]);
    expect(await subjects('"password reset"')).toEqual(["Weekly digest"]);
    expect(await subjects("password -digest")).toEqual(["Welcome aboard"]);
  });

  test("to: from: cc: with an address or @domain", async () => {
    expect(await subjects(`to:alice@${D}`)).toEqual(["Weekly digest", "Welcome aboard"]);
    expect(await subjects(`to:@sub.${D}`)).toEqual(["Weekly digest"]);
    expect(await subjects("from:@shop.test")).toEqual([
      "Copied",
      "Invoice December",
      "Late notice",
      "Welcome aboard",
    ]);
    expect(await subjects("from:billing@invoices.shop.test")).toEqual(["Invoice December"]);
    expect(await subjects(`cc:frank@cc.${D}`)).toEqual(["Copied"]);
    expect(await subjects(`cc:@${D}`)).toEqual(["Copied"]);
    expect(await subjects(`-from:@shop.test`)).toEqual(["Weekly digest"]);
  });

  test("subject: is a substring, any case", async () => {
    expect(await subjects("subject:INVOICE")).toEqual(["Invoice December"]);
    expect(await subjects('subject:"weekly dig"')).toEqual(["Weekly digest"]);
    expect(await subjects("-subject:e")).toEqual([]);
  });

  test("has:attachment, larger:, smaller:", async () => {
    expect(await subjects("has:attachment")).toEqual(["Invoice December"]);
    expect(await subjects("-has:attachment")).toHaveLength(4);
    expect(await subjects("larger:100KB")).toEqual(["Invoice December"]);
    expect(await subjects("smaller:100KB")).toHaveLength(4);
    expect(await subjects("larger:1MB")).toEqual([]);
  });

  test("before: and after: (a date, or an ISO time)", async () => {
    const late = await client.get(ids.late!);
    const welcome = await client.get(ids.welcome!);
    expect(await subjects(`after:${late.receivedAt}`)).toEqual(["Copied", "Late notice"]);
    expect(await subjects(`before:${late.receivedAt}`)).toEqual([
      "Invoice December",
      "Weekly digest",
      "Welcome aboard",
    ]);
    expect(await subjects(`before:${welcome.receivedAt}`)).toEqual([]);
    const today = new Date().toISOString().slice(0, 10);
    expect(await subjects(`after:${today}`)).toHaveLength(5);
    expect(await subjects(`before:${today}`)).toEqual([]);
  });

  test("is:read and is:unread follow PATCH", async () => {
    expect(await subjects("is:read")).toEqual([]);
    await client.markRead(ids.digest!);
    expect(await subjects("is:read")).toEqual(["Weekly digest"]);
    expect(await subjects("is:unread")).toHaveLength(4);
    expect(await subjects("-is:unread")).toEqual(["Weekly digest"]);
    await client.markRead(ids.digest!, false);
    expect(await subjects("is:read")).toEqual([]);
  });

  test("search= is ANDed with the other parameters", async () => {
    const q = new URLSearchParams({ search: "password", to: `alice@${D}`, subject: "welcome" });
    const { body } = await api<MessageList>(`/api/v1/messages?${q}`);
    expect(body.messages.map((m) => m.subject)).toEqual(["Welcome aboard"]);
    expect(body.total).toBe(1);
  });

  test("the client's list takes search", async () => {
    const page = await client.list({ search: `to:@${D} has:attachment` });
    expect(page.messages.map((m) => m.id)).toEqual([ids.invoice]);
  });
});

describe("refusals", () => {
  test.each([
    ["foo:bar", "foo:bar"],
    ["before:someday", "before:someday"],
    ['"open', '"open'],
    ["larger:lots", "larger:lots"],
  ])("search=%s is a 400 naming the term", async (search, term) => {
    for (const method of ["GET", "DELETE", "PATCH"]) {
      const { status, body } = await api<ApiError>(`/api/v1/messages?search=${encodeURIComponent(search)}`, {
        method,
        ...(method === "PATCH"
          ? { body: '{"read":true}', headers: { "content-type": "application/json" } }
          : {}),
      });
      expect(status).toBe(400);
      expect(body.error.code).toBe("bad_request");
      expect(body.error.message).toContain(term);
    }
    const wait = await api<ApiError>(`/api/v1/wait?timeout=0&search=${encodeURIComponent(search)}`);
    expect(wait.status).toBe(400);
    expect(wait.body.error.message).toContain(term);
  });

  test("an empty search= is refused, never read as everything; the store is unchanged", async () => {
    for (const search of ["", "   "]) {
      const del = await api<ApiError>(`/api/v1/messages?search=${encodeURIComponent(search)}`, {
        method: "DELETE",
      });
      expect(del.status).toBe(400);
      expect(del.body.error.message).toMatch(/search= is empty/);
    }
    expect(await subjects("")).toHaveLength(5);
  });

  test("too long or too many terms", async () => {
    const long = await api<ApiError>(`/api/v1/messages?search=${"a".repeat(257)}`);
    expect(long.status).toBe(400);
    expect(long.body.error.message).toMatch(/at most 256 are allowed/);
    const many = await api<ApiError>(
      `/api/v1/messages?search=${encodeURIComponent(Array(33).fill("x").join(" "))}`,
    );
    expect(many.status).toBe(400);
    expect(many.body.error.message).toMatch(/at most 32 are allowed/);
  });
});

describe("wait and delete with search", () => {
  test("/wait returns a stored match, and holds until a matching message arrives", async () => {
    const stored = await client.waitFor({ search: `to:@${D} has:attachment`, timeoutMs: 2_000 });
    expect(stored.id).toBe(ids.invoice);

    const waiting = client.waitFor({ search: `to:@${D} "fresh banana" -from:@spam.test`, timeoutMs: 10_000 });
    // a message that matches all but the negated term must not answer the wait
    await sendMail(sink.smtpPort, { from: "x@spam.test", to: `w@${D}`, subject: "a", text: "fresh banana" });
    const id = await sendMail(sink.smtpPort, {
      from: "x@ok.test",
      to: `w@${D}`,
      subject: "b",
      text: "fresh banana",
    });
    const got: Message = await waiting;
    expect(got.id).toBe(id);
  });

  test("DELETE with search deletes exactly the matches", async () => {
    const before = (await client.list({ search: `to:@${D}`, limit: 100 })).messages.map((m) => m.id);
    const { deleted } = await client.delete({ search: `to:@${D} banana` });
    expect(deleted).toBe(2);
    const after = (await client.list({ search: `to:@${D}`, limit: 100 })).messages.map((m) => m.id);
    expect(after).toHaveLength(before.length - 2);
    expect(await subjects("banana")).toEqual([]);
    expect(after.sort()).toEqual(Object.values(ids).sort());
  });
});

test("the OpenAPI document covers search=, PATCH, extract and the read field", async () => {
  type Op = { parameters?: { name: string; description: string }[]; requestBody?: unknown };
  const { body: doc } = await api<{
    paths: Record<string, Record<string, Op>>;
    components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
  }>("/api/v1/openapi.json");
  const list = doc.paths["/api/v1/messages"]!;
  for (const op of [list.get!, list.delete!, list.patch!, doc.paths["/api/v1/wait"]!.get!]) {
    const search = op.parameters!.find((p) => p.name === "search")!;
    for (const operator of [
      "to:",
      "from:",
      "cc:",
      "subject:",
      "has:attachment",
      "is:read",
      "is:unread",
      "before:",
      "after:",
      "larger:",
      "smaller:",
      "-",
    ]) {
      expect(search.description).toContain(operator);
    }
  }
  expect(list.patch!.requestBody).toBeDefined();
  expect(doc.paths["/api/v1/messages/{id}"]!.patch!.requestBody).toBeDefined();
  expect(doc.paths["/api/v1/messages/{id}/extract"]!.get).toBeDefined();
  expect(doc.components.schemas.Summary!.properties!.read).toEqual(
    expect.objectContaining({ type: "boolean" }),
  );
  expect(Object.keys(doc.components.schemas)).toEqual(
    expect.arrayContaining(["ReadUpdate", "UpdateResult", "Extraction"]),
  );
});
