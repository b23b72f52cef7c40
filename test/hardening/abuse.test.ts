// Abuse: a corpus of malformed and hostile SMTP input, each with the reply it
// must get, against the real `tun sink` process (plain port and smtps). While
// it runs a probe measures how long new sessions wait for their greeting (a
// pathological parse must not stall the loop); afterwards the sink still takes
// a normal message at once and its memory is back near its idle level.
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Message } from "../../protocol/wire.js";
import { spawnTestSink, type SpawnedSink } from "../helpers/sink.js";
import { waitUntil } from "../helpers/poll.js";
import { SmtpWire } from "../helpers/smtp-wire.js";
import { deeplyNested } from "../helpers/nested-mime.js";
import { procMemoryKiB } from "../helpers/process-memory.js";
import { sha256 } from "./hardened-sink.js";

/** Message size limit of the sink under test (the oversized cases go just past it). */
const MAX_MESSAGE_BYTES = 2 * 1024 * 1024;
const IDLE_TIMEOUT_MS = 1_500;
const SESSION_TIMEOUT_MS = 3_000;
/** Longest a new session may wait for its greeting while the corpus runs. */
const MAX_GREETING_WAIT_MS = 1_500;
/**
 * "Back near idle": RSS after the corpus may exceed the idle RSS by at most this much. Idle is
 * measured after ordinary large mail (~145 MiB with a grown parse worker); measured after the
 * corpus: +36 MiB at once. V8 and malloc hand memory back lazily, so the check polls up to
 * RSS_SETTLE_MS. It catches memory held on the scale of the burst (buffers kept per session,
 * replies queued without bound), not a leak of a few MB.
 */
const RSS_SLACK_KIB = 48 * 1024;
const RSS_SETTLE_MS = 45_000;

let sink: SpawnedSink;
let smtpsPort: number;

interface Ctx {
  port: number;
  smtps: number;
}

/** What a case observed: the reply code that matters, or null when the server closed without one. */
type Observed = number | null;

interface Case {
  name: string;
  expected: Observed;
  run: (ctx: Ctx) => Promise<Observed>;
}

/** Greeting + EHLO, then fn. */
async function session(ctx: Ctx, fn: (w: SmtpWire) => Promise<Observed>): Promise<Observed> {
  const w = await SmtpWire.open({ port: ctx.port });
  try {
    expect((await w.reply()).code).toBe(220);
    return await fn(w);
  } finally {
    w.close();
  }
}

function afterEhlo(fn: (w: SmtpWire) => Promise<Observed>) {
  return (ctx: Ctx) =>
    session(ctx, async (w) => {
      expect((await w.command("EHLO abuse.test")).code).toBe(250);
      return fn(w);
    });
}

function commandCase(name: string, expected: Observed, line: string | Buffer, ehlo = true): Case {
  const send = async (w: SmtpWire): Promise<Observed> => {
    w.write(Buffer.concat([Buffer.from(line), Buffer.from("\r\n")]));
    return (await w.replyOrClose())?.code ?? null;
  };
  return { name, expected, run: ehlo ? afterEhlo(send) : (ctx) => session(ctx, send) };
}

const stored: { id: string; raw: Buffer; check?: (m: Message) => void }[] = [];

/** A whole transaction whose DATA is `raw`; expects 250 and queues a byte-exact check of what was stored. */
function messageCase(name: string, raw: Buffer | string, check?: (m: Message) => void): Case {
  const body = Buffer.isBuffer(raw) ? raw : Buffer.from(raw, "latin1");
  return {
    name,
    expected: 250,
    run: afterEhlo(async (w) => {
      expect((await w.command("MAIL FROM:<abuse@x.test>")).code).toBe(250);
      expect((await w.command("RCPT TO:<qa@x.test>")).code).toBe(250);
      expect((await w.command("DATA")).code).toBe(354);
      const r = await w.data(body, 30_000);
      if (r.code === 250) {
        const ends = body.subarray(-2).toString("latin1") === "\r\n";
        stored.push({
          id: /queued as (\S+)/.exec(r.text)![1]!,
          raw: ends ? body : Buffer.concat([body, Buffer.from("\r\n")]),
          check,
        });
      }
      return r.code;
    }),
  };
}

/** Raw bytes on a fresh connection to `port`; the first reply code, or null when closed without one. */
function rawBytesCase(name: string, expected: Observed, which: "plain" | "smtps", bytes: Buffer): Case {
  return {
    name,
    expected,
    run: (ctx) =>
      new Promise((resolve, reject) => {
        const s = connect(which === "plain" ? ctx.port : ctx.smtps, "127.0.0.1");
        let buf = "";
        let greeted = which === "smtps";
        s.setEncoding("latin1");
        s.on("connect", () => {
          if (which === "smtps") s.write(bytes);
        });
        s.on("data", (d: string) => {
          buf += d;
          const lines = buf.split("\r\n");
          buf = lines.pop()!;
          for (const line of lines) {
            if (!greeted && line.startsWith("220")) {
              greeted = true;
              s.write(bytes);
              continue;
            }
            if (/^\d{3} /.test(line)) {
              s.destroy();
              resolve(Number(line.slice(0, 3)));
            }
          }
        });
        s.on("close", () => resolve(null));
        s.on("error", () => {});
        setTimeout(() => {
          s.destroy();
          reject(new Error(`${name}: neither a reply nor a close within 10 s`));
        }, 10_000).unref();
      }),
  };
}

/** A TLS 1.2 ClientHello-shaped record with random contents, with or without line feeds in it. */
function tlsGarbage(withNewlines = true): Buffer {
  const junk = randomBytes(250);
  if (!withNewlines) junk.forEach((b, i) => (junk[i] = b === 0x0a ? 0x0b : b));
  else junk[100] = 0x0a;
  return Buffer.concat([
    Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc, 0x03, 0x03]),
    junk,
  ]);
}

function wide(parts: number): string {
  let s = "Subject: wide\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=w\r\n\r\n";
  for (let i = 0; i < parts; i++) s += `--w\r\nContent-Type: text/plain; name=p${i}.txt\r\n\r\npart ${i}\r\n`;
  return s + "--w--\r\n";
}

const subjectIs = (want: string) => (m: Message) => expect(m.subject).toBe(want);

const CASES: Case[] = [
  // --- commands ---
  commandCase("unknown command", 500, "FROBNICATE now"),
  commandCase("empty command line", 500, ""),
  commandCase("EHLO without a name", 501, "EHLO", false),
  commandCase("HELO without a name", 501, "HELO", false),
  commandCase("MAIL before EHLO", 503, "MAIL FROM:<a@x.test>", false),
  commandCase("RCPT before MAIL", 503, "RCPT TO:<a@x.test>"),
  commandCase("DATA before RCPT", 503, "DATA"),
  commandCase("MAIL with a broken address", 501, "MAIL FROM:<broken"),
  commandCase("MAIL with a bad SIZE parameter", 501, "MAIL FROM:<a@x.test> SIZE=lots"),
  commandCase(
    "MAIL announcing a size over the limit",
    552,
    `MAIL FROM:<a@x.test> SIZE=${MAX_MESSAGE_BYTES + 1}`,
  ),
  commandCase(
    "MAIL with an unknown parameter (ignored, like smtp-server does)",
    250,
    "MAIL FROM:<a@x.test> FROB=1",
  ),
  commandCase("NUL bytes in a command", 500, Buffer.from("NO\0OP\0\0")),
  commandCase("8-bit garbage as a command", 500, Buffer.from([0xff, 0xfe, 0x80, 0x81, 0x20, 0x41])),
  commandCase("an HTTP request on the SMTP port", 421, "GET / HTTP/1.1", false),
  commandCase("a command line over the line limit (4096)", 421, `NOOP ${"x".repeat(5_000)}`),
  commandCase("AUTH when it is not offered", 500, "AUTH PLAIN AGFsaWNlAHB3"),
  commandCase("STARTTLS with an argument", 501, "STARTTLS please"),
  commandCase("XCLIENT (not enabled)", 550, "XCLIENT ADDR=1.2.3.4"),
  commandCase("bare LF as the line ending", 250, Buffer.from("NOOP\nNOOP")),
  commandCase("VRFY", 252, "VRFY postmaster"),
  {
    name: "a megabyte without a newline",
    expected: 421,
    run: afterEhlo(async (w) => {
      w.write("NOOP " + "y".repeat(1024 * 1024));
      return (await w.replyOrClose())?.code ?? null;
    }),
  },
  {
    name: "ten unknown commands in a row end the session",
    expected: 421,
    run: afterEhlo(async (w) => {
      let last: Observed = null;
      for (let i = 0; i < 10; i++) last = (await w.command(`BOGUS${i}`)).code;
      return last;
    }),
  },
  {
    name: "RCPT with a 1000-character local part",
    expected: 501,
    run: afterEhlo(async (w) => {
      await w.command("MAIL FROM:<a@x.test>");
      return (await w.command(`RCPT TO:<${"l".repeat(1000)}@x.test>`)).code;
    }),
  },
  {
    name: "101 recipients: the 101st gets 452",
    expected: 452,
    run: afterEhlo(async (w) => {
      await w.command("MAIL FROM:<a@x.test>");
      w.write(Array.from({ length: 101 }, (_, i) => `RCPT TO:<r${i}@x.test>\r\n`).join(""));
      let last: Observed = null;
      for (let i = 0; i < 101; i++) last = (await w.reply()).code;
      return last;
    }),
  },
  {
    name: "pipelining flood: 5,000 NOOPs in one write, every reply in order",
    expected: 250,
    run: afterEhlo(async (w) => {
      w.write("NOOP\r\n".repeat(5_000));
      for (let i = 0; i < 4_999; i++) expect((await w.reply()).code).toBe(250);
      return (await w.reply()).code;
    }),
  },
  {
    name: "pipelining flood of 4 MB that never reads its replies (backpressure, no unbounded buffering)",
    expected: 250,
    run: afterEhlo(async (w) => {
      w.socket.pause();
      w.write("NOOP\r\n".repeat(700_000));
      await new Promise((r) => setTimeout(r, 300));
      w.socket.resume();
      return (await w.reply()).code;
    }),
  },
  {
    name: "a whole transaction and QUIT pipelined with garbage after QUIT",
    expected: 221,
    run: afterEhlo(async (w) => {
      w.write("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRSET\r\nQUIT\r\nGARBAGE\r\n");
      for (const want of [250, 250, 250]) expect((await w.reply()).code).toBe(want);
      return (await w.reply()).code;
    }),
  },
  // --- TLS ---
  // a ClientHello has no line end: it is one unfinished command line until the idle timeout
  rawBytesCase("TLS handshake on the plain port (no line end)", 421, "plain", tlsGarbage(false)),
  rawBytesCase("TLS handshake garbage with a line feed on the plain port", 500, "plain", tlsGarbage(true)),
  rawBytesCase("TLS handshake garbage on smtps", null, "smtps", tlsGarbage()),
  rawBytesCase("plaintext SMTP on the smtps port", null, "smtps", Buffer.from("EHLO x\r\n")),
  {
    name: "STARTTLS, then garbage instead of a handshake",
    expected: null,
    run: afterEhlo(async (w) => {
      expect((await w.command("STARTTLS")).code).toBe(220);
      w.write(tlsGarbage());
      await w.waitClosed();
      return null;
    }),
  },
  // --- sessions that never finish ---
  {
    name: "silent after the greeting: 421 at the idle timeout",
    expected: 421,
    run: (ctx) => session(ctx, async (w) => (await w.reply(IDLE_TIMEOUT_MS + 5_000)).code),
  },
  {
    name: "slow loris in DATA (a byte every 100 ms): 421 at the session limit",
    expected: 421,
    run: afterEhlo(async (w) => {
      await w.command("MAIL FROM:<a@x.test>");
      await w.command("RCPT TO:<b@x.test>");
      await w.command("DATA");
      const drip = setInterval(() => w.write("z"), 100);
      try {
        return (await w.reply(SESSION_TIMEOUT_MS + 5_000)).code;
      } finally {
        clearInterval(drip);
      }
    }),
  },
  {
    name: "connection dropped in the middle of DATA",
    expected: null,
    run: afterEhlo(async (w) => {
      await w.command("MAIL FROM:<a@x.test>");
      await w.command("RCPT TO:<b@x.test>");
      await w.command("DATA");
      w.write("Subject: half\r\n\r\nnever finished");
      w.close();
      return null;
    }),
  },
  // --- oversized ---
  {
    name: "a message over --max-message-size",
    expected: 552,
    run: afterEhlo(async (w) => {
      await w.command("MAIL FROM:<a@x.test>");
      await w.command("RCPT TO:<b@x.test>");
      await w.command("DATA");
      return (await w.data("Subject: big\r\n\r\n" + "0123456789abcdef\r\n".repeat(130_000), 30_000)).code;
    }),
  },
  // --- hostile content: stored raw, parsed as well as possible ---
  messageCase(
    "NUL bytes in headers and body",
    "Subject: nul\0here\r\nX-N: a\0b\r\n\r\nbody\0\0with nuls\r\n",
  ),
  messageCase(
    "bare LF line endings throughout",
    "Subject: bare lf\nFrom: a@x.test\n\nline one\nline two\n",
    subjectIs("bare lf"),
  ),
  messageCase(
    "a 1 MB header line",
    `Subject: long header\r\nX-Long: ${"h".repeat(1024 * 1024)}\r\n\r\nbody\r\n`,
    subjectIs("long header"),
  ),
  messageCase("multipart nested 500 deep", deeplyNested(500, "nested deep"), subjectIs("nested deep")),
  messageCase("multipart with 2,000 parts", wide(2_000), subjectIs("wide")),
  messageCase(
    "an unknown charset",
    "Subject: =?x-no-such-charset?Q?caf=E9?=\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\ncaf\xe9\r\n",
  ),
  messageCase(
    "broken base64 body",
    "Subject: b64\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not*base64===\r\n",
    subjectIs("b64"),
  ),
  messageCase(
    "broken quoted-printable",
    "Subject: qp\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=4=\r\n",
    subjectIs("qp"),
  ),
  messageCase("a malformed encoded-word", "Subject: =?utf-8?X?broken?= tail\r\n\r\nx\r\n"),
  messageCase(
    "raw 8-bit bytes in headers",
    Buffer.from("Subject: \xff\xfe\x80 bytes\r\nFrom: \xe9@x.test\r\n\r\n\xff\r\n", "latin1"),
  ),
  messageCase("no header/body separator at all", "just a line of text without any headers\r\n"),
  messageCase(
    "20,000 header lines",
    "Subject: many headers\r\n" + "X-H: v\r\n".repeat(20_000) + "\r\nx\r\n",
    subjectIs("many headers"),
  ),
  messageCase(
    "unterminated multipart (no closing boundary)",
    "Subject: open\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nopen part\r\n",
    subjectIs("open"),
  ),
  messageCase(
    "lines that start with dots (dot-stuffing edges)",
    "Subject: dots\r\n\r\n.\r\n..\r\n.hidden\r\n",
    subjectIs("dots"),
  ),
  messageCase("an empty message", ""),
  // small enough (< 64 KiB) to be parsed on the main thread: each must stay cheap (the probe watches)
  messageCase(
    "HTML nested 12,000 tags deep",
    "Subject: divs\r\nContent-Type: text/html\r\n\r\n" + "<div>".repeat(12_000) + "x\r\n",
    subjectIs("divs"),
  ),
  messageCase(
    "3,000 encoded-words in the subject",
    "Subject: " + "=?utf-8?Q?a=C3=A9?= ".repeat(3_000) + "\r\n\r\nx\r\n",
  ),
  messageCase(
    "an address group bomb",
    "To: " + "g:".repeat(8_000) + "a@b.test;\r\nSubject: groups\r\n\r\nx\r\n",
    subjectIs("groups"),
  ),
  messageCase(
    "60,000 '<' in an HTML body",
    "Subject: lt\r\nContent-Type: text/html\r\n\r\n" + "<".repeat(60_000) + "\r\n",
    subjectIs("lt"),
  ),
  messageCase("binary junk as a whole message", randomBytes(200_000)),
];

async function greetingTime(port: number): Promise<number> {
  const t0 = performance.now();
  const w = await SmtpWire.open({ port });
  await w.reply(10_000);
  w.close();
  return performance.now() - t0;
}

async function idleRss(pid: number): Promise<number> {
  // a few samples: the lowest is the level the process settles at
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(procMemoryKiB(pid).rss);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Math.min(...samples);
}

describe("abuse corpus against the tun sink process", () => {
  let idleKiB = 0;
  let probe: Promise<void> | null = null;
  let probing = true;
  const greetingWaits: number[] = [];

  beforeAll(async () => {
    sink = await spawnTestSink([
      "--smtps",
      "127.0.0.1:0",
      "--max-message-size",
      String(MAX_MESSAGE_BYTES),
      "--idle-timeout",
      `${IDLE_TIMEOUT_MS}ms`,
      "--session-timeout",
      `${SESSION_TIMEOUT_MS}ms`,
    ]);
    smtpsPort = Number(/^\[sink\] smtps listening on .*:(\d+)$/m.exec(sink.output())![1]);
    // warm up (modules, the first parse, and a parse worker: messages over 64 KiB start one, and it
    // stays up for a minute after its last message) before taking the idle level
    for (let i = 0; i < 5; i++) expect((await sendOneTo(sink.smtpPort, `warmup ${i}`)).code).toBe(250);
    // "idle" means the steady state of a sink that has seen ordinary large mail: a worker's heap grown by
    // megabyte-sized messages is not what this test looks for; memory the abuse leaves behind is
    for (const size of [200 * 1024, 1024 * 1024, 1024 * 1024]) {
      expect((await sendOneTo(sink.smtpPort, `warmup ${size}`, "w".repeat(size))).code).toBe(250);
    }
    idleKiB = await idleRss(sink.child.pid!);
    probe = (async () => {
      while (probing) {
        greetingWaits.push(await greetingTime(sink.smtpPort));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
  });

  afterAll(async () => {
    probing = false;
    await probe;
    await sink?.stop();
  });

  test(`the corpus has at least 40 cases (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  test.each(CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const observed = await c.run({ port: sink.smtpPort, smtps: smtpsPort });
    expect(observed).toBe(c.expected);
    expect(sink.child.exitCode, `the sink died: ${sink.output().slice(-2000)}`).toBeNull();
  });

  test("every hostile message answered 250 is stored byte for byte and parsed as well as possible", async () => {
    expect(stored.length).toBeGreaterThanOrEqual(14);
    for (const s of stored) {
      const raw = Buffer.from(await (await fetch(`${sink.url}/api/v1/messages/${s.id}/raw`)).arrayBuffer());
      expect(sha256(raw), s.id).toBe(sha256(s.raw));
      const msg = (await (await fetch(`${sink.url}/api/v1/messages/${s.id}`)).json()) as Message;
      s.check?.(msg);
    }
  });

  test("no new session waited long for its greeting while the corpus ran (parsing never stalls the loop)", async () => {
    probing = false;
    await probe;
    greetingWaits.sort((a, b) => a - b);
    const max = greetingWaits[greetingWaits.length - 1]!;
    console.log(
      `[abuse] greeting wait over ${greetingWaits.length} probes: median ${greetingWaits[greetingWaits.length >> 1]!.toFixed(1)} ms, max ${max.toFixed(1)} ms`,
    );
    expect(greetingWaits.length).toBeGreaterThan(20);
    expect(max).toBeLessThan(MAX_GREETING_WAIT_MS);
  });

  test("afterwards a normal message is accepted promptly and RSS is back near idle", async () => {
    const t0 = performance.now();
    expect((await sendOneTo(sink.smtpPort, "after the abuse")).code).toBe(250);
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(1_000);
    const pid = sink.child.pid!;
    const { hwm: peak, rss: rightAfter } = procMemoryKiB(pid);
    const settled = await waitUntil(
      "RSS back near its idle level",
      async () => {
        const rss = procMemoryKiB(pid).rss;
        return rss <= idleKiB + RSS_SLACK_KIB ? rss : null;
      },
      RSS_SETTLE_MS,
    );
    console.log(
      `[abuse] RSS idle ${Math.round(idleKiB / 1024)} MiB, peak ${Math.round(peak / 1024)} MiB, ` +
        `right after ${Math.round(rightAfter / 1024)} MiB, ` +
        `settled at ${Math.round(settled / 1024)} MiB after ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
        `normal message answered in ${elapsed.toFixed(0)} ms`,
    );
  });
});

async function sendOneTo(port: number, subject: string, text = "fine") {
  const w = await SmtpWire.open({ port });
  try {
    await w.reply();
    await w.command("EHLO ok.test");
    await w.command("MAIL FROM:<ok@x.test>");
    await w.command("RCPT TO:<qa@x.test>");
    await w.command("DATA");
    return await w.data(`Subject: ${subject}\r\n\r\n${text}\r\n`);
  } finally {
    w.close();
  }
}
