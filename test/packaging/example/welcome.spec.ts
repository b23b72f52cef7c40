// welcome.spec.ts: the app under test sends its mail to the sink that globalSetup started.
import { SinkClient } from "@tunmail/client";
import nodemailer from "nodemailer";
import { expect, inject, test } from "vitest";

const sink = new SinkClient(inject("sinkUrl"));

test("a new user gets a welcome mail with a code", async () => {
  const smtp = nodemailer.createTransport({ host: "127.0.0.1", port: inject("smtpPort") });
  await smtp.sendMail({
    from: "Shop <noreply@shop.test>",
    to: "new-user@example.test",
    subject: "Welcome to the shop",
    text: "Your confirmation code is 482913.",
  });

  const mail = await sink.waitFor({ to: "new-user@example.test", timeoutMs: 10_000 });
  expect(mail.subject).toBe("Welcome to the shop");
  expect(mail.text).toContain("482913");
});
