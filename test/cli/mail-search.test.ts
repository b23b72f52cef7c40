// `tun mail ls|wait|clear --search` and the `Code:` line of `tun mail show` and `tun watch`:
// the real binary against a real sink.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { sendMail, uniqueAddress } from "../client/send-mail.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { runTun, startTun } from "./tun-process.js";

let sink: TestSink;

beforeAll(async () => {
  sink = await startTestSink();
});
afterAll(async () => {
  await sink?.stop();
});

const mail = (...args: string[]) => runTun(["mail", ...args, "--sink", sink.url]);
const SIGNUP = {
  subject: "Confirm your Shop account",
  text: "Welcome! Your verification code is 804 137.\nOr confirm at https://shop.test/confirm?t=abc\n",
};

describe("tun mail ls --search", () => {
  test("narrows the table by the search syntax; a bad term is one line naming it, exit 1", async () => {
    const domain = `${uniqueAddress("d").split("@")[0]}.test`;
    const invoice = await sendMail(sink.smtpPort, {
      to: `a@${domain}`,
      subject: "Invoice",
      text: "see attached",
      attachments: [{ filename: "i.pdf", content: Buffer.alloc(4096, 1), contentType: "application/pdf" }],
    });
    const hello = await sendMail(sink.smtpPort, {
      to: `b@${domain}`,
      subject: "Hello there",
      text: "plain hello",
    });

    const withAtt = await mail("ls", "--search", `to:@${domain} has:attachment`);
    expect(withAtt.code).toBe(0);
    expect(withAtt.stdout).toContain(invoice);
    expect(withAtt.stdout).not.toContain(hello);

    const negated = await mail("ls", "--search", `to:@${domain} -has:attachment "plain hello"`);
    expect(negated.stdout).toContain(hello);
    expect(negated.stdout).not.toContain(invoice);

    const bad = await mail("ls", "--search", `to:@${domain} frm:x@y.test`);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toContain("frm:x@y.test");
    expect(bad.stderr).not.toMatch(/\n\s+at /);

    const empty = await mail("ls", "--search", " ");
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain("--search");
  });
});

describe("tun mail wait --search", () => {
  test("waits for the first new message that matches, without --to", async () => {
    const domain = `${uniqueAddress("w").split("@")[0]}.test`;
    const waiting = startTun([
      "mail",
      "wait",
      "--sink",
      sink.url,
      "--json",
      "--search",
      `to:@${domain} subject:welcome`,
    ]);
    await waiting.waitFor("the waiting line", (_o, e) => e.includes("arriving from now on"));
    expect(waiting.stderr()).toContain(`matching "to:@${domain} subject:welcome"`);
    const other = await sendMail(sink.smtpPort, { to: `a@${domain}`, subject: "Invoice", text: "x" });
    const wanted = await sendMail(sink.smtpPort, { to: `b@${domain}`, subject: "Welcome aboard", text: "y" });
    expect((await waiting.exited).code).toBe(0);
    const got = JSON.parse(waiting.stdout()) as { id: string };
    expect(got.id).toBe(wanted);
    expect(got.id).not.toBe(other);
  });

  test("with neither --to nor --search, or a bad term, it says so in one line", async () => {
    const none = await mail("wait", "--timeout", "1");
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(
      "tun: say which mail to wait for: --to ADDRESS|@DOMAIN, --search TERMS, or both\n",
    );
    const bad = await mail("wait", "--search", "to:@x.test frm:y", "--timeout", "1");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toContain("frm:y");
  });
});

describe("tun mail clear --search", () => {
  test("deletes exactly the matching messages; a bad or empty search deletes nothing", async () => {
    const domain = `${uniqueAddress("c").split("@")[0]}.test`;
    const invoice = await sendMail(sink.smtpPort, {
      to: `a@${domain}`,
      subject: "Invoice",
      text: "see attached",
      attachments: [{ filename: "i.pdf", content: Buffer.alloc(1024, 1), contentType: "application/pdf" }],
    });
    const hello = await sendMail(sink.smtpPort, { to: `b@${domain}`, subject: "Hello", text: "hi" });

    const bad = await mail("clear", "--search", `to:@${domain} has:nothing`);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("has:nothing");
    const empty = await mail("clear", "--search", " ");
    expect(empty.code).toBe(2);
    const before = await mail("ls", "--search", `to:@${domain}`);
    expect(before.stdout).toContain(invoice);
    expect(before.stdout).toContain(hello);

    const cleared = await mail("clear", "--search", `to:@${domain} has:attachment`);
    expect(cleared.code).toBe(0);
    expect(cleared.stdout).toBe(`deleted 1 message matching "to:@${domain} has:attachment"\n`);
    const after = await mail("ls", "--search", `to:@${domain}`);
    expect(after.stdout).not.toContain(invoice);
    expect(after.stdout).toContain(hello);
  });
});

describe("the Code: line", () => {
  test("tun mail show prints the code of a signup mail, and none for a mail without one", async () => {
    const id = await sendMail(sink.smtpPort, { to: uniqueAddress("show"), ...SIGNUP });
    const shown = await mail("show", id);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^Code:\s+804137$/m);
    const plain = await sendMail(sink.smtpPort, {
      to: uniqueAddress("show"),
      subject: "Hi",
      text: "Order 583920 shipped",
    });
    expect((await mail("show", plain)).stdout).not.toMatch(/^Code:/m);
  });

  test("tun watch prints the code in the message block", async () => {
    const to = uniqueAddress("watch");
    const watch = startTun(["watch", "--sink", sink.url, "--to", to]);
    try {
      await watch.waitFor("the connected line", (_o, e) => e.includes("watching"));
      await sendMail(sink.smtpPort, { to, ...SIGNUP });
      await watch.waitFor("the message block", (o) => o.includes("https://shop.test/confirm?t=abc"));
      expect(watch.stdout()).toMatch(/^\[SMTP\] Code: 804137$/m);
      const lines = watch.stdout().split("\n");
      expect(lines.findIndex((l) => l.startsWith("[SMTP] Code:"))).toBe(
        lines.findIndex((l) => l.startsWith("[SMTP] Subject:")) + 1,
      );
    } finally {
      await watch.stop();
    }
  });
});
