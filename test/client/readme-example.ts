// signup.test.ts: checks the mail a sign-up sends, through a running `tun sink`.
import { randomUUID } from "node:crypto";
import nodemailer from "nodemailer";
import { afterAll, expect, test } from "vitest";
import { SinkClient } from "@tunmail/client";

const sink = new SinkClient(process.env.TUN_SINK_URL ?? "http://127.0.0.1:8025");

// Stands in for your application, which sends its mail to the sink's SMTP port.
async function signUp(email: string): Promise<void> {
  const smtp = nodemailer.createTransport({
    host: "127.0.0.1",
    port: Number(process.env.TUN_SINK_SMTP_PORT ?? 2525),
  });
  const code = String(100_000 + Math.floor(Math.random() * 900_000));
  await smtp.sendMail({
    from: "Shop <noreply@shop.test>",
    to: email,
    subject: "Confirm your account",
    text: `Welcome! Your confirmation code is ${code}.\nOr open https://shop.test/confirm?code=${code}`,
  });
  smtp.close();
}

// A unique address per test file keeps parallel runs apart; clean up only your own mail.
const email = `signup-${randomUUID()}@example.test`;
afterAll(() => sink.delete({ to: email }));

test("sign-up mails a six-digit confirmation code", async () => {
  await signUp(email);

  // Resolves as soon as the mail is stored (or at once if it already is); no polling loop.
  const mail = await sink.waitFor({ to: email, subject: "Confirm", timeoutMs: 10_000 });

  expect(mail.from?.address).toBe("noreply@shop.test");
  const code = mail.text?.match(/\b(\d{6})\b/)?.[1];
  expect(code).toMatch(/^\d{6}$/);
  expect(mail.text).toContain(`https://shop.test/confirm?code=${code}`);
});

test("the stream delivers each new message once, in order", async () => {
  const controller = new AbortController();
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  const subjects: string[] = [];

  const reading = (async () => {
    const messages = sink.stream({ to: email, signal: controller.signal, onConnected: connected });
    for await (const msg of messages) {
      subjects.push(msg.subject);
      if (subjects.length === 2) controller.abort();
    }
  })();

  await ready; // without `since`, the stream starts with messages that arrive after it connects
  await signUp(email);
  await signUp(email);
  await reading;
  expect(subjects).toEqual(["Confirm your account", "Confirm your account"]);
});
