// Bounded work per request (issue 11): q= is capped, and a heavy read runs in
// the reader worker and is abandoned after READ_TIMEOUT_MS with 503 while the
// SMTP thread keeps greeting clients. The slow query is the issue's own: one
// word repeated (here the most q= may hold, 32 times) against a store where
// every body word starts with it, so each term expands to every stored word.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Q_MAX_CHARS, Q_MAX_TERMS } from "../../sink/storage/filter-sql.js";
import { READ_TIMEOUT_MS } from "../../sink/storage/reader.js";
import { waitUntil } from "../helpers/poll.js";
import { spawnTestSink, startTestSink, type SpawnedSink, type TestSink } from "../helpers/sink.js";
import { probeGreetings } from "./greeting-probe.js";
import { fillStore, HEAVY } from "./store-fixture.js";

/**
 * A latency bound measured while other test files share the two cores: a
 * genuine stall fails every try, a neighbour's CPU burst fails one. The bound
 * itself stays as the issue states it.
 */
const TIMING_RETRY = { retry: 2 };

/** The bounds: an answer (503 or a result) within 2.5 s, SMTP greetings within 200 ms. */
const ANSWER_WITHIN_MS = 2_500;
const GREETING_WITHIN_MS = 200;
/**
 * Stored messages and words per body. The slow query must take well over READ_TIMEOUT_MS for the list
 * and for a bulk delete's one read of the matches: at 2,000 the ids read took 1.7 s on a 2-core VM, so
 * the delete finished (correctly) in time; 5,000 takes about twice the budget (20,000 as in the issue with
 * TUN_TEST_HEAVY=1).
 */
const STORED = HEAVY ? 20_000 : 5_000;
const WORDS_PER_BODY = 200;

/** What these tests read from a JSON answer: an error, a list page or the health counts. */
interface Answer {
  error: { code: string; message: string };
  total: number;
  messages: { subject: string }[];
}

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: Answer }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Answer };
}

describe("q= limits", () => {
  let sink: TestSink;
  beforeAll(async () => {
    sink = await startTestSink();
  });
  afterAll(() => sink.stop());

  test(`more than ${Q_MAX_TERMS} words or ${Q_MAX_CHARS} characters is 400 bad_request naming q`, async () => {
    const many = Array.from({ length: Q_MAX_TERMS + 1 }, (_, i) => `w${i}`).join(" ");
    const tooMany = await getJson(`${sink.url}/api/v1/messages?q=${encodeURIComponent(many)}`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.code).toBe("bad_request");
    expect(tooMany.body.error.message).toMatch(/^q= may hold at most 32 words/);

    const long = "x".repeat(Q_MAX_CHARS + 1);
    const tooLong = await getJson(`${sink.url}/api/v1/messages?q=${long}`);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.message).toMatch(/^q= may hold at most 256 characters/);

    const del = await getJson(`${sink.url}/api/v1/messages?q=${encodeURIComponent(many)}`, {
      method: "DELETE",
    });
    expect(del.status).toBe(400);

    const atLimit = Array.from({ length: Q_MAX_TERMS }, (_, i) => `w${i}`).join(" ");
    expect((await getJson(`${sink.url}/api/v1/messages?q=${encodeURIComponent(atLimit)}`)).status).toBe(200);
    expect((await getJson(`${sink.url}/api/v1/messages?q=${"y".repeat(Q_MAX_CHARS)}`)).status).toBe(200);
  });
});

describe("a query that runs too long (real tun sink)", () => {
  let sink: SpawnedSink;
  let dir: string;
  const slowQ = encodeURIComponent(Array.from({ length: Q_MAX_TERMS }, () => "a").join(" "));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tun-bounded-reads-"));
    let seed = 7;
    const letter = (): string =>
      String.fromCharCode(97 + ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 26));
    const word = (): string => "a" + letter() + letter() + letter() + letter();
    fillStore(join(dir, "sink.db"), STORED, (i) => ({
      to: `r${i % 50}@reads.test`,
      subject: `stored ${i}`,
      text: Array.from({ length: WORDS_PER_BODY }, word).join(" "),
    }));
    sink = await spawnTestSink([], { dbPath: join(dir, "sink.db") });
    // the reader worker starts with the sink; on a loaded machine that can take a while
    await waitUntil(
      "a first read",
      async () => (await getJson(`${sink.url}/api/v1/messages?to=r1@reads.test&limit=1`)).status === 200,
    );
  }, 120_000);
  afterAll(async () => {
    await sink?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test(
    "is answered 503 unavailable within 2.5 s while SMTP greets every client within 200 ms",
    { ...TIMING_RETRY, timeout: 30_000 },
    async () => {
      const probe = probeGreetings(sink.smtpPort);
      const t0 = performance.now();
      const list = await getJson(`${sink.url}/api/v1/messages?q=${slowQ}`);
      const listMs = performance.now() - t0;
      const t1 = performance.now();
      const del = await getJson(`${sink.url}/api/v1/messages?q=${slowQ}`, { method: "DELETE" });
      const delMs = performance.now() - t1;
      const greetings = await probe.stop();
      console.log(
        `slow q: list ${list.status} in ${listMs.toFixed(0)} ms, delete ${del.status} in ${delMs.toFixed(0)} ms; ` +
          `${greetings.length} greetings, slowest ${[...greetings]
            .sort((a, b) => b - a)
            .slice(0, 5)
            .map((g) => g.toFixed(0))
            .join(", ")} ms`,
      );
      expect(listMs).toBeLessThan(ANSWER_WITHIN_MS);
      expect(delMs).toBeLessThan(ANSWER_WITHIN_MS);
      // the store is large enough that this query cannot finish in READ_TIMEOUT_MS here
      expect(list.status).toBe(503);
      expect(list.body.error.code).toBe("unavailable");
      expect(list.body.error.message).toContain(`${READ_TIMEOUT_MS / 1000} s`);
      expect(del.status).toBe(503);
      expect(greetings.length).toBeGreaterThan(5);
      expect(Math.max(...greetings)).toBeLessThan(GREETING_WITHIN_MS);

      // a refused delete deleted nothing, and the replaced worker answers the next read
      const health = (await (await fetch(`${sink.url}/api/v1/health`)).json()) as { messages: number };
      expect(health.messages).toBe(STORED);
      const narrow = await getJson(`${sink.url}/api/v1/messages?to=r7@reads.test&limit=1`);
      expect(narrow.status).toBe(200);
      expect(narrow.body.total).toBe(STORED / 50);
      expect(narrow.body.messages[0]?.subject).toBe(`stored ${STORED - 43}`);
    },
  );
});
