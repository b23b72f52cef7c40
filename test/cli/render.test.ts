/* eslint-disable no-control-regex -- these tests match ANSI escape sequences on purpose */
// formatMessage is a pure function: checked here without a sink or a terminal.
import { describe, expect, test } from "vitest";
import type { Message } from "../../protocol/wire.js";
import { BODY_PREVIEW_LINES, findHighlights, formatMessage, formatSize } from "../../cli/watch/render.js";

const ANSI = /\x1b\[[0-9;]*m/;

function message(over: Partial<Message> = {}): Message {
  return {
    id: "01JD0000000000000000000000",
    receivedAt: "2026-11-22T14:03:22.000Z",
    envelope: { from: "noreply@shop.test", to: ["qa+42@api.tun.example.com"] },
    from: { address: "noreply@shop.test", name: "Shop" },
    to: [{ address: "qa+42@api.tun.example.com", name: "" }],
    cc: [],
    subject: "Confirm your account",
    size: 2301,
    attachmentCount: 1,
    snippet: "Hi QA",
    remoteIp: "127.0.0.1",
    tls: false,
    authUser: null,
    read: false,
    messageId: "<x@shop.test>",
    date: null,
    heloName: "shop.test",
    headers: [],
    text: "Hi QA, your code is 482913.\nConfirm at https://shop.test/confirm?t=abc.\n",
    html: null,
    attachments: [
      {
        id: "a1",
        filename: "invoice.pdf",
        contentType: "application/pdf",
        size: 34 * 1024 + 100,
        contentId: null,
        inline: false,
      },
    ],
    ...over,
  };
}

function localClock(iso: string): string {
  const d = new Date(iso);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

describe("formatMessage", () => {
  test("plain block matches the issue's layout exactly", () => {
    const msg = message();
    expect(formatMessage(msg, { color: false })).toBe(
      [
        `[SMTP] === NEW EMAIL === ${localClock(msg.receivedAt)}  01JD0000000000000000000000`,
        "[SMTP] From: Shop <noreply@shop.test>",
        "[SMTP] To: qa+42@api.tun.example.com",
        "[SMTP] Subject: Confirm your account",
        "[SMTP] Attachments: invoice.pdf (34 KB)",
        "  Hi QA, your code is 482913.",
        "  Confirm at https://shop.test/confirm?t=abc.",
      ].join("\n"),
    );
  });

  test("no escape codes without colour, escape codes around links and codes with it", () => {
    const msg = message();
    expect(formatMessage(msg, { color: false })).not.toMatch(ANSI);
    const colored = formatMessage(msg, { color: true });
    expect(colored).toMatch(ANSI);
    expect(colored).toMatch(/(?:\x1b\[[0-9;]*m)+482913(?:\x1b\[[0-9;]*m)+\./);
    expect(colored).toMatch(/(?:\x1b\[[0-9;]*m)+https:\/\/shop\.test\/confirm\?t=abc(?:\x1b\[[0-9;]*m)+\./);
    expect(colored.replace(/\x1b\[[0-9;]*m/g, "")).toBe(formatMessage(msg, { color: false }));
  });

  test("HTML-only mail without derived text points at tun mail open", () => {
    const msg = message({ text: null, attachments: [], html: "<p>Your code: <b>7731</b></p>" });
    const body = formatMessage(msg, { color: false }).split("\n").slice(4);
    expect(body).toEqual([`  (HTML only: tun mail open ${msg.id})`]);
  });

  test("long bodies are cut to the preview with a pointer to the full text", () => {
    const lines = Array.from({ length: BODY_PREVIEW_LINES + 3 }, (_, i) => `line ${i + 1}`);
    const out = formatMessage(message({ text: lines.join("\n\n\n"), attachments: [] }), { color: false });
    const body = out.split("\n").filter((l) => l.startsWith("  "));
    expect(body[0]).toBe("  line 1");
    expect(body[1]).toBe("  "); // blank runs collapse to one blank line
    expect(body.at(-1)).toContain("more lines: tun mail show 01JD0000000000000000000000");
  });

  test("Cc, envelope-only recipients, missing subject and empty body", () => {
    const out = formatMessage(
      message({
        cc: [{ address: "boss@shop.test", name: "Boss" }],
        envelope: { from: "", to: ["qa+42@api.tun.example.com", "boss@shop.test", "audit@shop.test"] },
        subject: "",
        text: "",
        attachments: [],
      }),
      { color: false },
    ).split("\n");
    expect(out).toContain("[SMTP] Cc: Boss <boss@shop.test>");
    expect(out).toContain("[SMTP] Bcc: audit@shop.test");
    expect(out).toContain("[SMTP] Subject: (no subject)");
    expect(out.at(-1)).toBe("  (empty body)");
  });
});

describe("highlights", () => {
  test.each([
    ["your code is 482913.", [], ["482913"]],
    ["PIN: 1234, expires 2026-11-22 at 14:03", [], ["1234"]],
    ["order #12345 costs 1234.56 EUR, ref ABC12345", [], []],
    ["too short 123 or too long 123456789", [], []],
    ["open https://x.test/c/99999?code=123456, then 5555", ["https://x.test/c/99999?code=123456"], ["5555"]],
  ])("%s", (line, links, codes) => {
    expect(findHighlights(line)).toEqual({ links, codes });
  });
});

test("formatSize", () => {
  expect(formatSize(812)).toBe("812 B");
  expect(formatSize(34 * 1024 + 100)).toBe("34 KB");
  expect(formatSize(1.25 * 1024 * 1024)).toBe("1.3 MB");
});
