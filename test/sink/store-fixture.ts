// Fills a store file through the sink's own insert path (MessageStore), for
// tests that need many or large stored messages without sending them over
// SMTP first. The full-text index is brought up to date before it closes.
import { openDatabase } from "../../sink/storage/db.js";
import type { ParsedFields } from "../../sink/parse/parse.js";
import { MessageStore, type Incoming } from "../../sink/storage/store.js";

export interface FixtureMessage {
  to: string;
  subject: string;
  text: string;
  /** Raw bytes stored (default: a small header block). */
  raw?: Buffer;
}

/** Messages per insert transaction. */
const FIXTURE_BATCH = 200;

function entry(m: FixtureMessage): { incoming: Incoming; parsed: ParsedFields } {
  const raw = m.raw ?? Buffer.from(`To: ${m.to}\r\nSubject: ${m.subject}\r\n\r\nfixture\r\n`);
  return {
    incoming: {
      raw,
      envelope: { from: "fixture@x.test", to: [m.to] },
      remoteIp: "127.0.0.1",
      heloName: "fixture",
      tls: false,
      authUser: null,
      receivedAt: Date.now(),
    },
    parsed: {
      from: { name: "", address: "fixture@x.test" },
      to: [{ name: "", address: m.to }],
      cc: [],
      subject: m.subject,
      snippet: m.text.slice(0, 200),
      messageId: null,
      date: null,
      headers: [],
      text: m.text,
      html: null,
      attachments: [],
    },
  };
}

/** Stores `count` messages made by `make(i)` in dbPath; returns their ids in order. */
export function fillStore(dbPath: string, count: number, make: (i: number) => FixtureMessage): string[] {
  const store = new MessageStore(openDatabase(dbPath));
  const ids: string[] = [];
  try {
    for (let i = 0; i < count; i += FIXTURE_BATCH) {
      const batch = Array.from({ length: Math.min(FIXTURE_BATCH, count - i) }, (_, j) => entry(make(i + j)));
      ids.push(...store.insertBatch(batch).map((m) => m.id));
    }
    store.list({ q: "fixture" }, 1, null); // indexes everything now, not in the sink under test
  } finally {
    store.close();
  }
  return ids;
}

/** Whether the larger sizes of the resource tests run (TUN_TEST_HEAVY=1). */
export const HEAVY = process.env.TUN_TEST_HEAVY === "1";
