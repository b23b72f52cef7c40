// The pure parts: the reply text providers derive, plus-addressing, and which
// targets count as this machine.
import { expect, test } from "vitest";
import { mailboxHash } from "../../cli/deliver/postmark.js";
import { replyText, strippedHtml } from "../../cli/deliver/reply-text.js";
import { deliveryTarget, isLoopbackHost } from "../../cli/deliver/target.js";

test("the reply above a quote, for the markers common clients write", () => {
  const cases: [string, string][] = [
    ["Yes.\n\nOn Mon, 30 Nov 2026 at 09:12, Bob <b@x.test> wrote:\n> Ok?", "Yes."],
    ["Yes.\n\nOn Mon, 30 Nov 2026 at 09:12, Bob Example\n<b@x.test> wrote:\n> Ok?", "Yes."],
    ["Yes.\r\n-----Original Message-----\r\nFrom: Bob\r\nOk?", "Yes."],
    ["Yes.\n________________________________\nFrom: Bob <b@x.test>\nSent: Monday", "Yes."],
    ["Yes.\n> Ok?\n> Sure", "Yes."],
  ];
  for (const [text, reply] of cases) {
    expect(replyText(text)).toEqual({ reply, signature: "", quoted: true });
  }
});

test("a signature after '-- ' is split off; a message quoting nothing is not a reply", () => {
  expect(replyText("Hello there\n\n-- \nAnn\n")).toEqual({
    reply: "Hello there",
    signature: "-- \nAnn",
    quoted: false,
  });
  expect(replyText("Only text, no quote")).toEqual({
    reply: "Only text, no quote",
    signature: "",
    quoted: false,
  });
  // A dash rule that is not the delimiter stays in the text.
  expect(replyText("a\n--- b\nc").reply).toBe("a\n--- b\nc");
});

test("the HTML without its quoted part", () => {
  const html =
    '<html><body><p>Yes.</p>On Mon Bob wrote:<br><blockquote type="cite"><p>Ok?</p></blockquote></body></html>';
  expect(strippedHtml(html)).toBe("<html><body><p>Yes.</p></body></html>");
  expect(strippedHtml("<p>no quote</p>")).toBe("<p>no quote</p>");
});

test("MailboxHash is what follows + in the local part", () => {
  expect(mailboxHash("reply+4821@api.tun.test")).toBe("4821");
  expect(mailboxHash("reply+a+b@api.tun.test")).toBe("a+b");
  expect(mailboxHash("reply@api.tun.test")).toBe("");
});

test("only loopback targets without --deliver-remote", () => {
  for (const host of ["localhost", "127.0.0.1", "127.1.2.3", "[::1]", "[::ffff:127.0.0.1]"]) {
    expect(
      deliveryTarget(`http://${host}:3000/hook`, { flag: "--deliver", allowRemote: false }).url.pathname,
    ).toBe("/hook");
  }
  for (const host of [
    "10.0.0.1",
    "0.0.0.0",
    "[::]",
    "example.com",
    "localhost.example.com",
    "2130706433.example",
  ]) {
    expect(() => deliveryTarget(`http://${host}/hook`, { flag: "--deliver", allowRemote: false })).toThrow(
      /is not this machine; tun delivers only to localhost unless you add --deliver-remote/,
    );
    expect(
      deliveryTarget(`http://${host}/hook`, { flag: "--deliver", allowRemote: true }).url.host,
    ).toBeTruthy();
  }
  // Numeric spellings of 127.0.0.1 are normalised by the URL parser before the check.
  expect(isLoopbackHost(new URL("http://2130706433/").hostname)).toBe(true);
  expect(
    deliveryTarget("/webhooks/inbound", { flag: "--deliver", localPort: 3000, allowRemote: false }),
  ).toEqual({
    url: new URL("http://localhost:3000/webhooks/inbound"),
    display: "/webhooks/inbound",
  });
  expect(() => deliveryTarget("ftp://localhost/x", { flag: "--deliver", allowRemote: true })).toThrow(
    /only http/,
  );
});
