// Each payload format POSTed to a real local app, checked with the providers'
// own parsing code where it is on the registry (@sendgrid/inbound-mail-parser,
// the postmark package's InboundWebhook type, Mailgun's documented HMAC check)
// and against the documented example payloads elsewhere.
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Models } from "postmark";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SinkClient } from "@tunmail/client";
import { attemptDelivery } from "../../cli/deliver/attempt.js";
import { payloadFormat } from "../../cli/deliver/formats.js";
import { mailParts, type MailParts } from "../../cli/deliver/mail-parts.js";
import type { FormatName } from "../../cli/deliver/payload.js";
import { postmarkDocument } from "../../cli/deliver/postmark.js";
import { sendMail } from "../client/send-mail.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { parseMultipart } from "./multipart.js";
import { startWebhookApp, type ReceivedRequest, type WebhookApp } from "./webhook-app.js";

const require = createRequire(import.meta.url);
// SendGrid's parser is CommonJS: { keys, request } -> keyValues(), attachments(cb).
const SendGridParse = require("@sendgrid/inbound-mail-parser") as new (
  config: { keys: string[] },
  request: {
    body: Record<string, string>;
    files?: { path: string; originalname: string; mimetype: string }[];
  },
) => {
  keyValues(): Record<string, string>;
  hasRawEmail(): boolean;
  attachments(cb: (list: { filename: string; type: string; content: string }[]) => void): void;
};

const SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";
const SUBJECT = "Re: Ünïcode ✉ ticket #4821";
const BINARY = randomBytes(70_000);
const BINARY_NAME = "résumé ✓.bin";
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);
const REPLY = "Thanks, that fixed it.\n\n-- \nAnn Example\nExample Corp";
const QUOTE =
  "On Tue, 1 Dec 2026 at 10:00, Support <support@api.tun.test> wrote:\n> Please try again.\n> Cheers";

let sink: TestSink;
let app: WebhookApp;
let mail: MailParts;
let raw: Buffer;
let id: string;

beforeAll(async () => {
  sink = await startTestSink();
  app = await startWebhookApp();
  id = await sendMail(sink.smtpPort, {
    from: "Ann Ëxample <ann@customer.test>",
    to: ["Support Bot <reply+4821@api.tun.test>"],
    subject: SUBJECT,
    text: `${REPLY}\n\n${QUOTE}\n`,
    html: `<p>Thanks, that fixed it.</p><img src="cid:logo@tun"><div class="gmail_quote">On Tue wrote:<blockquote>Please try again.</blockquote></div>`,
    attachments: [
      { filename: BINARY_NAME, content: BINARY, contentType: "application/octet-stream" },
      { filename: "logo.png", content: PNG, contentType: "image/png", cid: "logo@tun" },
    ],
  });
  const client = new SinkClient(sink.url);
  raw = await client.raw(id);
  mail = await mailParts(await client.get(id), raw, ["@api.tun.test"]);
});

afterAll(async () => {
  await app?.close();
  await sink?.stop();
});

async function deliver(format: FormatName, path = "/webhooks/inbound"): Promise<ReceivedRequest> {
  const url = new URL(app.url(path));
  const payload = await payloadFormat(format).encode(mail, { url, signingKey: SIGNING_KEY, now: new Date() });
  const before = app.requests.length;
  const result = await attemptDelivery(url, payload, id, { timeoutMs: 10_000 });
  expect(result.status).toBe(200);
  expect(app.requests.length).toBe(before + 1);
  const req = app.requests.at(-1)!;
  expect(req.method).toBe("POST");
  expect(req.url).toBe(path);
  expect(req.headers["x-tun-message-id"]).toBe(id);
  return req;
}

test("raw: the exact bytes as message/rfc822, with the envelope in headers", async () => {
  const req = await deliver("raw");
  expect(req.headers["content-type"]).toBe("message/rfc822");
  expect(req.body.equals(raw)).toBe(true);
  expect(req.headers["x-tun-envelope-to"]).toBe("reply+4821@api.tun.test");
  expect(req.headers["x-tun-envelope-from"]).toBe("ann@customer.test");
});

describe("sendgrid", () => {
  const KEYS = [
    "headers",
    "text",
    "html",
    "from",
    "to",
    "cc",
    "subject",
    "envelope",
    "charsets",
    "sender_ip",
    "attachments",
    "attachment-info",
    "content-ids",
  ];

  test("Inbound Parse fields and attachments, read by SendGrid's own parser", async () => {
    const req = await deliver("sendgrid");
    expect(req.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    const form = await parseMultipart(req.headers, req.body);
    const dir = mkdtempSync(join(tmpdir(), "tun-sendgrid-"));
    try {
      // Handlers hand SendGrid's parser multer's disk files; do the same.
      const files = form.files.map((f, i) => {
        const path = join(dir, `upload-${i}`);
        writeFileSync(path, f.content);
        return { path, originalname: f.filename, mimetype: f.mimeType };
      });
      const parse = new SendGridParse({ keys: KEYS }, { body: form.fields, files });
      const kv = parse.keyValues();
      expect(kv.subject).toBe(SUBJECT);
      expect(kv.from).toBe('"Ann Ëxample" <ann@customer.test>');
      expect(kv.to).toContain("reply+4821@api.tun.test");
      expect(kv.text).toContain("Thanks, that fixed it.");
      expect(kv.html).toContain("cid:logo@tun");
      expect(kv.headers).toBe(raw.subarray(0, raw.indexOf("\r\n\r\n")).toString("utf8"));
      expect(JSON.parse(kv.envelope!)).toEqual({ to: ["reply+4821@api.tun.test"], from: mail.envelopeFrom });
      expect(JSON.parse(kv.charsets!)).toMatchObject({
        to: "UTF-8",
        from: "UTF-8",
        subject: "UTF-8",
        text: "UTF-8",
        html: "UTF-8",
      });
      expect(kv.sender_ip).toBe("127.0.0.1");
      expect(kv.attachments).toBe("2");
      // MIME order: the inline logo sits in multipart/related before the attached file.
      expect(JSON.parse(kv["attachment-info"]!)).toEqual({
        attachment1: { filename: "logo.png", name: "logo.png", type: "image/png", "content-id": "logo@tun" },
        attachment2: { filename: BINARY_NAME, name: BINARY_NAME, type: "application/octet-stream" },
      });
      expect(JSON.parse(kv["content-ids"]!)).toEqual({ "logo@tun": "attachment1" });
      expect(form.files.map((f) => f.field)).toEqual(["attachment1", "attachment2"]);
      const attachments = await new Promise<{ filename: string; type: string; content: string }[]>((r) =>
        parse.attachments(r),
      );
      expect(attachments.map((a) => a.filename)).toEqual(["logo.png", BINARY_NAME]);
      expect(Buffer.from(attachments[0]!.content, "base64").equals(PNG)).toBe(true);
      expect(Buffer.from(attachments[1]!.content, "base64").equals(BINARY)).toBe(true);
      expect(kv.SPF).toBeUndefined(); // not checked by the sink, so not invented
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the raw variant carries the full message in `email`", async () => {
    const req = await deliver("sendgrid-raw");
    const form = await parseMultipart(req.headers, req.body);
    const parse = new SendGridParse(
      { keys: ["email", "to", "from", "subject", "envelope"] },
      { body: form.fields },
    );
    expect(parse.hasRawEmail()).toBe(true);
    expect(Buffer.from(parse.keyValues().email!, "utf8").equals(raw)).toBe(true);
    expect(form.fields.subject).toBe(SUBJECT);
    expect(form.files).toEqual([]);
  });
});

describe("mailgun", () => {
  test("forward() fields, stripped reply, attachments byte-exact, and a signature Mailgun's check accepts", async () => {
    const req = await deliver("mailgun");
    const form = await parseMultipart(req.headers, req.body);
    const f = form.fields;
    // Mailgun's documented check: hex HMAC-SHA256 of timestamp + token with the signing key.
    const expected = createHmac("sha256", SIGNING_KEY)
      .update(f.timestamp! + f.token!)
      .digest("hex");
    expect(f.signature).toBe(expected);
    expect(f.token).toMatch(/^[0-9a-f]{50}$/);
    expect(Math.abs(Number(f.timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(f.recipient).toBe("reply+4821@api.tun.test");
    expect(f.sender).toBe(mail.envelopeFrom);
    expect(f.subject).toBe(SUBJECT);
    expect(f["body-plain"]).toContain("> Please try again.");
    expect(f["stripped-text"]).toBe("Thanks, that fixed it.");
    // Multipart form fields carry CRLF line breaks (as browsers and providers send them).
    expect(f["stripped-signature"]!.replace(/\r\n/g, "\n")).toBe("-- \nAnn Example\nExample Corp");
    expect(f["stripped-html"]).not.toContain("Please try again");
    expect(f["stripped-html"]).toContain("Thanks, that fixed it.");
    const headers = JSON.parse(f["message-headers"]!) as [string, string][];
    expect(headers.find(([k]) => k === "Message-ID")?.[1]).toBe(mail.messageIdHeader);
    expect(f["attachment-count"]).toBe("2");
    expect(JSON.parse(f["content-id-map"]!)).toEqual({ "<logo@tun>": "attachment-1" });
    const files = Object.fromEntries(form.files.map((x) => [x.field, x]));
    expect(files["attachment-2"]!.filename).toBe(BINARY_NAME);
    expect(files["attachment-2"]!.content.equals(BINARY)).toBe(true);
    expect(files["attachment-1"]!.content.equals(PNG)).toBe(true);
  });

  test("a URL ending in mime gets the raw MIME variant", async () => {
    const req = await deliver("mailgun", "/hooks/mailgun-mime");
    const form = await parseMultipart(req.headers, req.body);
    expect(Buffer.from(form.fields["body-mime"]!, "utf8").equals(raw)).toBe(true);
    expect(form.fields.recipient).toBe("reply+4821@api.tun.test");
    expect(form.fields["body-plain"]).toBeUndefined();
    expect(form.fields.signature).toBe(
      createHmac("sha256", SIGNING_KEY)
        .update(form.fields.timestamp! + form.fields.token!)
        .digest("hex"),
    );
  });
});

test("postmark: the InboundWebhook JSON, MailboxHash from plus addressing, base64 attachments", async () => {
  // Checked by tsc: the document we build is assignable to the postmark package's own type.
  const typed: Models.InboundWebhook = postmarkDocument(mail);
  expect(typed.MessageStream).toBe("inbound");
  const req = await deliver("postmark");
  expect(req.headers["content-type"]).toBe("application/json");
  const doc = JSON.parse(req.body.toString("utf8")) as Models.InboundWebhook;
  expect(Object.keys(doc).sort()).toEqual(Object.keys(typed).sort());
  expect(doc.MailboxHash).toBe("4821");
  expect(doc.OriginalRecipient).toBe("reply+4821@api.tun.test");
  expect(doc.ToFull).toEqual([
    { Email: "reply+4821@api.tun.test", Name: "Support Bot", MailboxHash: "4821" },
  ]);
  expect(doc.FromFull).toEqual({ Email: "ann@customer.test", Name: "Ann Ëxample", MailboxHash: "" });
  expect(doc.FromName).toBe("Ann Ëxample");
  expect(doc.Subject).toBe(SUBJECT);
  expect(doc.StrippedTextReply).toBe("Thanks, that fixed it.");
  expect(doc.TextBody).toContain("> Please try again.");
  expect(doc.MessageID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  expect(doc.Headers.find((h) => h.Name === "Message-ID")?.Value).toBe(mail.messageIdHeader);
  expect(doc.Headers.some((h) => h.Name === "Subject")).toBe(false);
  expect(doc.Attachments.map((a) => [a.Name, a.ContentType, a.ContentLength, a.ContentID])).toEqual([
    ["logo.png", "image/png", PNG.length, "logo@tun"],
    [BINARY_NAME, "application/octet-stream", BINARY.length, ""],
  ]);
  expect(Buffer.from(doc.Attachments[1]!.Content, "base64").equals(BINARY)).toBe(true);
});

test("ses: an SNS Notification whose Message is the SES receipt with base64 content", async () => {
  const req = await deliver("ses");
  expect(req.headers["x-amz-sns-message-type"]).toBe("Notification");
  expect(req.headers["content-type"]).toBe("text/plain; charset=UTF-8");
  const sns = JSON.parse(req.body.toString("utf8")) as Record<string, string>;
  expect(sns.Type).toBe("Notification");
  expect(req.headers["x-amz-sns-message-id"]).toBe(sns.MessageId);
  expect(req.headers["x-amz-sns-topic-arn"]).toBe(sns.TopicArn);
  const receipt = JSON.parse(sns.Message!) as {
    notificationType: string;
    mail: { source: string; destination: string[]; commonHeaders: { subject: string }; headers: unknown[] };
    receipt: { recipients: string[]; action: { type: string; encoding: string } };
    content: string;
  };
  // The documented example's shape: notificationType, receipt{…action{type SNS}}, mail{…}, content.
  expect(Object.keys(receipt).sort()).toEqual(["content", "mail", "notificationType", "receipt"]);
  expect(receipt.notificationType).toBe("Received");
  expect(receipt.receipt.action).toMatchObject({ type: "SNS", encoding: "BASE64" });
  expect(receipt.receipt.recipients).toEqual(["reply+4821@api.tun.test"]);
  expect(receipt.mail.source).toBe(mail.envelopeFrom);
  expect(receipt.mail.commonHeaders.subject).toBe(SUBJECT);
  expect(Buffer.from(receipt.content, "base64").equals(raw)).toBe(true);
});
