// GET /api/v1/messages/:id/extract against a real sink, through the client.
import { afterAll, beforeAll, expect, test } from "vitest";
import { SinkApiError } from "../../client/errors.js";
import { SinkClient } from "../../client/sink-client.js";
import { sendMail } from "../client/send-mail.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";

let sink: TestSink;
let client: SinkClient;

beforeAll(async () => {
  sink = await startTestSink();
  client = new SinkClient(sink.url);
});
afterAll(async () => {
  await sink?.stop();
});

test("a signup mail: its code, and every link with its text; a disguised link is flagged", async () => {
  const id = await sendMail(sink.smtpPort, {
    to: "qa@extract.test",
    subject: "Confirm your Shop account",
    text: "Welcome! Your verification code is 730 144.\nConfirm: https://shop.test/confirm?t=abc\nHelp: https://help.shop.test/",
    html:
      "<p>Your verification code is <b>730 144</b>.</p>" +
      '<p><a href="https://shop.test/confirm?t=abc">Confirm my account</a></p>' +
      '<p><a href="https://tracker.evil.test/r?u=1">https://shop.test/account</a></p>' +
      '<p><a href="javascript:alert(1)">nothing</a></p>',
  });
  const e = await client.extract(id);
  expect(e.codes).toEqual(["730144"]);
  expect(e.links).toEqual([
    { href: "https://shop.test/confirm?t=abc", text: "Confirm my account", mismatch: false },
    { href: "https://tracker.evil.test/r?u=1", text: "https://shop.test/account", mismatch: true },
    { href: "https://help.shop.test/", text: "https://help.shop.test/", mismatch: false },
  ]);
});

test("a mail without codes or links gives empty lists; an unknown id is 404", async () => {
  const id = await sendMail(sink.smtpPort, {
    to: "qa@extract.test",
    subject: "Hello",
    text: "Just hello from 2026.",
  });
  expect(await client.extract(id)).toEqual({ codes: [], links: [] });
  const err = await client.extract("01JD0000000000000000000000").catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SinkApiError);
  expect((err as SinkApiError).code).toBe("not_found");
});
