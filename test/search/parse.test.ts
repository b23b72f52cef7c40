// The search parser and compiler are pure: every operator, negation, quoting
// and each refusal (which must name the bad term) checked without a sink.
import { describe, expect, test } from "vitest";
import { SEARCH_MAX_CHARS, SEARCH_MAX_TERMS } from "../../protocol/wire.js";
import { compileSearch, searchCondition } from "../../sink/search/compile.js";
import { parseSearch, SearchSyntaxError } from "../../sink/search/parse.js";

describe("parseSearch", () => {
  test("bare words and quoted phrases are full text, lower-cased into index words", () => {
    expect(parseSearch('Reset "your Password" café')).toEqual([
      { negated: false, source: "Reset", kind: "text", words: ["reset"], phrase: false },
      { negated: false, source: '"your Password"', kind: "text", words: ["your", "password"], phrase: true },
      { negated: false, source: "café", kind: "text", words: ["café"], phrase: false },
    ]);
  });

  test("to: from: cc: take an address or @domain", () => {
    expect(parseSearch("to:QA@Example.com from:@shop.test cc:@corp.example")).toEqual([
      {
        negated: false,
        source: "to:QA@Example.com",
        kind: "address",
        field: "to",
        pattern: "qa@example.com",
      },
      { negated: false, source: "from:@shop.test", kind: "address", field: "from", pattern: "@shop.test" },
      { negated: false, source: "cc:@corp.example", kind: "address", field: "cc", pattern: "@corp.example" },
    ]);
  });

  test("subject: takes a word or a quoted value with spaces", () => {
    expect(
      parseSearch('subject:"Reset your" subject:code').map((t) => t.kind === "subject" && t.value),
    ).toEqual(["Reset your", "code"]);
  });

  test("has:attachment, is:read, is:unread (operator case does not matter)", () => {
    expect(parseSearch("has:attachment IS:Read is:unread")).toEqual([
      { negated: false, source: "has:attachment", kind: "has-attachment" },
      { negated: false, source: "IS:Read", kind: "read", read: true },
      { negated: false, source: "is:unread", kind: "read", read: false },
    ]);
  });

  test("before: after: take a date (00:00 UTC) or an ISO time (UTC without a zone)", () => {
    const times = parseSearch(
      "after:2026-12-01 before:2026-12-01T10:30:00Z before:2026-12-01T10:30 after:2026-12-01T11:30+01:00",
    ).map((t) => (t.kind === "time" ? [t.op, t.timeMs] : null));
    expect(times).toEqual([
      ["after", Date.UTC(2026, 11, 1)],
      ["before", Date.UTC(2026, 11, 1, 10, 30)],
      ["before", Date.UTC(2026, 11, 1, 10, 30)],
      ["after", Date.UTC(2026, 11, 1, 10, 30)],
    ]);
  });

  test("larger: smaller: take bytes or KB/MB/GB (1 KB = 1024 bytes)", () => {
    const sizes = parseSearch("larger:100KB smaller:2mb larger:512 smaller:1.5M larger:10b").map((t) =>
      t.kind === "size" ? [t.op, t.bytes] : null,
    );
    expect(sizes).toEqual([
      ["larger", 102400],
      ["smaller", 2 * 1024 * 1024],
      ["larger", 512],
      ["smaller", 1572864],
      ["larger", 10],
    ]);
  });

  test("- negates any term", () => {
    const q = parseSearch('-from:@spam.test -"weekly digest" -has:attachment -is:read -larger:1MB word');
    expect(q.map((t) => t.negated)).toEqual([true, true, true, true, true, false]);
    expect(q[1]).toMatchObject({ kind: "text", phrase: true, words: ["weekly", "digest"] });
  });

  test("a colon inside quotes or after a non-letter is text", () => {
    expect(parseSearch('"to:x"')[0]).toMatchObject({ kind: "text", words: ["to", "x"] });
    expect(parseSearch("10:30")[0]).toMatchObject({ kind: "text", words: ["10", "30"] });
  });

  const refusals: [string, string][] = [
    ["foo:bar", "foo:bar"],
    ["word http://x.test", "http://x.test"],
    ["to:nobody", "to:nobody"],
    ["from:a@b@c", "from:a@b@c"],
    ["cc:", "cc:"],
    ["has:pdf", "has:pdf"],
    ["is:starred", "is:starred"],
    ["before:yesterday", "before:yesterday"],
    ["after:2026-02-31", "after:2026-02-31"],
    ["before:2026-13-01", "before:2026-13-01"],
    ["larger:big", "larger:big"],
    ["smaller:10TB", "smaller:10TB"],
    ['subject:"open', 'subject:"open'],
    ['"unclosed phrase', '"unclosed'],
    ['sub"ject', 'sub"ject'],
    ["ok -", "-"],
    ["!!!", "!!!"],
  ];
  test.each(refusals)("%s is refused, naming %s", (text, term) => {
    expect(() => parseSearch(text)).toThrow(SearchSyntaxError);
    expect(() => parseSearch(text)).toThrow(term);
  });

  test(`at most ${SEARCH_MAX_CHARS} characters and ${SEARCH_MAX_TERMS} terms; empty is refused`, () => {
    expect(() => parseSearch("a".repeat(SEARCH_MAX_CHARS + 1))).toThrow(/at most 256/);
    expect(parseSearch("a".repeat(SEARCH_MAX_CHARS))).toHaveLength(1);
    expect(() =>
      parseSearch(
        Array(SEARCH_MAX_TERMS + 1)
          .fill("w")
          .join(" "),
      ),
    ).toThrow(/33 terms; at most 32/);
    expect(parseSearch(Array(SEARCH_MAX_TERMS).fill("w").join(" "))).toHaveLength(SEARCH_MAX_TERMS);
    expect(() => parseSearch("   ")).toThrow(/empty/);
  });
});

describe("compileSearch", () => {
  test("values are bound as parameters, never put in the SQL", () => {
    const c = searchCondition(`subject:"x' OR 1=1 --" to:@a.test -is:read larger:1KB`);
    expect(c.sql).not.toContain("OR 1=1");
    expect(c.params).toContain("x' or 1=1 --");
    expect(c.sql).toContain("NOT (m.seq IN (SELECT seq FROM read_marks))");
    expect(c.fullText).toBe(false);
  });

  test("the SQL depends only on the kinds of terms (bounded statement shapes)", () => {
    const a = searchCondition("to:a@x.test word -subject:one");
    const b = searchCondition("to:b@y.test other -subject:two");
    expect(a.sql).toBe(b.sql);
    expect(a.fullText).toBe(true);
    expect(compileSearch(parseSearch('"a b"'), "").params).toEqual(['"a b"']);
    expect(compileSearch(parseSearch("ab"), "").params).toEqual(['"ab"*']);
  });
});
