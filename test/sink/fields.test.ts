// Fields that are true (issue 11): the sender's Date: or null, never the
// receive time; with repeated From:/Subject: the first one wins, as other mail
// readers show it. Real mailparser, through the sink's parse step and over SMTP.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Message } from "../../protocol/wire.js";
import { parseMessage } from "../../sink/parse/parse.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { sendRaw } from "../helpers/smtp-wire.js";

const mail = (headers: string[]): Buffer =>
  Buffer.from([...headers, "To: qa@fields.test", "", "body", ""].join("\r\n"));

describe("parsed fields", () => {
  test("no Date: header gives date null", async () => {
    expect((await parseMessage(mail(["From: a@x.test", "Subject: s"]))).date).toBeNull();
  });

  test("an unparseable Date: gives date null, not the time of parsing", async () => {
    for (const bad of ["Date: not a date", "Date: ", "Date: Mon, 99 Foo 2026 99:99:99 +9999"]) {
      expect((await parseMessage(mail(["From: a@x.test", bad]))).date, bad).toBeNull();
    }
  });

  test("a valid Date: is kept in UTC, and the first of two wins", async () => {
    const one = await parseMessage(mail(["Date: Tue, 1 Dec 2026 10:00:00 +0100"]));
    expect(one.date).toBe("2026-12-01T09:00:00.000Z");
    const two = await parseMessage(
      mail(["Date: Tue, 1 Dec 2026 10:00:00 +0000", "Date: Wed, 2 Dec 2026 10:00:00 +0000"]),
    );
    expect(two.date).toBe("2026-12-01T10:00:00.000Z");
  });

  test("with repeated From: and Subject: the first ones win, decoded", async () => {
    const p = await parseMessage(
      mail([
        'From: "Your Bank" <security@bank.example>',
        "Subject: =?UTF-8?B?UsOpc3VtZQ==?= first",
        "From: attacker@evil.example",
        "Subject: second",
      ]),
    );
    expect(p.from).toEqual({ name: "Your Bank", address: "security@bank.example" });
    expect(p.subject).toBe("Résume first");
    // every header line is still listed, in order
    expect(p.headers.filter((h) => h.key.toLowerCase() === "from").map((h) => h.value)).toEqual([
      '"Your Bank" <security@bank.example>',
      "attacker@evil.example",
    ]);
  });

  test("a single From:/Subject: is unchanged", async () => {
    const p = await parseMessage(mail(["From: Ann <ann@x.test>", "Subject: hello"]));
    expect(p.from).toEqual({ name: "Ann", address: "ann@x.test" });
    expect(p.subject).toBe("hello");
  });
});

describe("over SMTP and the API", () => {
  let sink: TestSink;
  beforeAll(async () => {
    sink = await startTestSink();
  });
  afterAll(() => sink.stop());

  test("a stored message without Date: reads date null; duplicates read first-wins", async () => {
    const reply = await sendRaw(
      sink.smtpPort,
      "a@x.test",
      ["qa@fields.test"],
      "From: first@x.test\r\nFrom: second@x.test\r\nSubject: one\r\nSubject: two\r\nTo: qa@fields.test\r\n\r\nbody\r\n",
    );
    const id = /queued as (\S+)/.exec(reply.text)![1]!;
    const m = (await (await fetch(`${sink.url}/api/v1/messages/${id}`)).json()) as Message;
    expect(m.date).toBeNull();
    expect(m.from?.address).toBe("first@x.test");
    expect(m.subject).toBe("one");
  });
});
