// The one rule for mail-derived text on a terminal or in a log.
import { describe, expect, test } from "vitest";
import { printable, printableBody, printableJson } from "../../protocol/printable.js";

describe("printable (single-line fields)", () => {
  test.each([
    ["\u001b[2J", "\\x1b[2J"],
    ["\u001b]52;c;aGk=\u0007", "\\x1b]52;c;aGk=\\x07"],
    ["\u0000", "\\x00"],
    ["a\nb\tc\rd", "a\\x0ab\\x09c\\x0dd"],
    ["\u007f", "\\x7f"],
    ["\u0080 \u009b \u009f", "\\x80 \\x9b \\x9f"],
    ["\u202a\u202b\u202c\u202d\u202e", "\\u202a\\u202b\\u202c\\u202d\\u202e"],
    ["\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"],
  ])("%j -> %s", (input, expected) => {
    expect(printable(input)).toBe(expected);
  });

  test("ordinary text, non-Latin scripts, emoji and neighbours of the bidi controls are unchanged", () => {
    const text = "Grüße, 日本語, مرحبا, עברית 🎉 \u00a0\u2029\u202f\u2065\u206a \\x1b";
    expect(printable(text)).toBe(text);
  });
});

describe("printableBody", () => {
  test("keeps newline and tab, turns CRLF into a newline, escapes a lone CR and everything else", () => {
    expect(printableBody("a\r\nb\tc\rd\u001b[31m\u202e\n")).toBe("a\nb\tc\\x0dd\\x1b[31m\\u202e\n");
  });
});

describe("printableJson", () => {
  test("escapes DEL, C1 and bidi controls too, and parses back to the same value", () => {
    const value = { s: "\u001b]8;;x\u0007 \u009b \u007f \u202e ok", n: 1 };
    const line = printableJson(value);
    expect(line).toBe('{"s":"\\u001b]8;;x\\u0007 \\u009b \\u007f \\u202e ok","n":1}');
    expect(JSON.parse(line)).toEqual(value);
  });
});
