// Each SMTP limit and --allow/--deny, against an in-process sink with small
// values. 127.0.0.2 is a second client address on Linux loopback.
import { describe, expect, test } from "vitest";
import { resolveSinkConfig, SinkConfigError } from "../../sink/config.js";
import { DEFAULT_SMTP_LIMITS } from "../../sink/smtp/limits.js";
import type { TestSink } from "../helpers/sink.js";
import { sendOne, SmtpWire } from "../helpers/smtp-wire.js";
import { startHardenedSink } from "./hardened-sink.js";

async function withSink(flags: Parameters<typeof startHardenedSink>[0], fn: (s: TestSink) => Promise<void>) {
  const sink = await startHardenedSink(flags);
  try {
    await fn(sink);
  } finally {
    await sink.stop();
  }
}

async function greeted(port: number, from?: string): Promise<{ w: SmtpWire; code: number; text: string }> {
  const w = await SmtpWire.open({ port, from });
  const r = await w.reply();
  return { w, code: r.code, text: r.text };
}

const body = "Subject: limits\r\n\r\nx\r\n";

describe("flags", () => {
  test("defaults suit a public VM and are documented constants", () => {
    const { limits } = resolveSinkConfig({}, {}).hardening;
    expect(limits).toEqual(DEFAULT_SMTP_LIMITS);
    expect(limits.maxRecipients).toBe(100);
  });

  test("flags override TUN_SINK_* variables; bad values are usage errors naming the flag", () => {
    const cfg = resolveSinkConfig(
      { "max-connections": "7", deny: ["10.0.0.0/8", "2001:db8::/32"] },
      {
        TUN_SINK_MAX_CONNECTIONS: "9",
        TUN_SINK_MAX_RECIPIENTS: "5",
        TUN_SINK_ALLOW: "192.0.2.1,198.51.100.0/24",
      },
    ).hardening.limits;
    expect(cfg.maxConnections).toBe(7);
    expect(cfg.maxRecipients).toBe(5);
    expect(cfg.deny).toEqual(["10.0.0.0/8", "2001:db8::/32"]);
    expect(cfg.allow).toEqual(["192.0.2.1", "198.51.100.0/24"]);
    for (const [flags, re] of [
      [{ deny: ["10.0.0.0/33"] }, /^--deny \(or TUN_SINK_DENY\): expected CIDRs/],
      [{ "max-connections": "0" }, /^--max-connections .*at least 1/],
      [{ "idle-timeout": "soon" }, /^--idle-timeout .*duration/],
      [{ auth: "maybe" }, /^--auth .*none or accept-any/],
      [{ "tls-cert": "/x.pem" }, /^--tls-key /],
      [{ tls: "off", "require-tls": true }, /^--tls .*on or auto/],
    ] as const) {
      expect(() => resolveSinkConfig(flags, {})).toThrow(SinkConfigError);
      expect(() => resolveSinkConfig(flags, {})).toThrow(re);
    }
  });
});

describe("connection limits", () => {
  test("--max-connections: the session beyond the limit gets 421 and is closed; a slot freed is usable again", async () => {
    await withSink({ "max-connections": "3" }, async (sink) => {
      const held = await Promise.all([1, 2, 3].map(() => greeted(sink.smtpPort)));
      expect(held.map((h) => h.code)).toEqual([220, 220, 220]);
      const extra = await greeted(sink.smtpPort);
      expect(extra.code).toBe(421);
      expect(extra.text).toMatch(/Too many connections/);
      await extra.w.waitClosed();
      held[0]!.w.close();
      await held[0]!.w.waitClosed();
      // the server sees the close asynchronously: poll with a deadline
      const deadline = Date.now() + 5_000;
      let again: Awaited<ReturnType<typeof greeted>>;
      for (;;) {
        again = await greeted(sink.smtpPort);
        if (again.code === 220 || Date.now() > deadline) break;
        again.w.close();
      }
      expect(again.code).toBe(220);
      for (const h of [...held, again]) h.w.close();
    });
  });

  test("--max-connections-per-ip: the client over it gets 421, another client IP is still served", async () => {
    await withSink({ "max-connections-per-ip": "2", "limit-exempt": ["none"] }, async (sink) => {
      const a = await Promise.all([1, 2].map(() => greeted(sink.smtpPort)));
      expect(a.map((h) => h.code)).toEqual([220, 220]);
      const over = await greeted(sink.smtpPort);
      expect(over.code).toBe(421);
      expect(over.text).toMatch(/from your address/);
      const other = await greeted(sink.smtpPort, "127.0.0.2");
      expect(other.code).toBe(220);
      for (const h of [...a, over, other]) h.w.close();
    });
  });

  test("loopback is exempt from per-IP limits by default (local tests and benches are never throttled)", async () => {
    await withSink({ "max-connections-per-ip": "1", "max-messages-per-ip": "1" }, async (sink) => {
      const a = await Promise.all([1, 2, 3].map(() => greeted(sink.smtpPort)));
      expect(a.map((h) => h.code)).toEqual([220, 220, 220]);
      for (const h of a) h.w.close();
      for (let i = 0; i < 3; i++) expect((await sendOne({ port: sink.smtpPort, body })).code).toBe(250);
    });
  });
});

describe("per-message limits", () => {
  test("--max-messages-per-ip: MAIL beyond the per-minute budget gets 451 with a clear text; others unaffected", async () => {
    await withSink({ "max-messages-per-ip": "3", "limit-exempt": ["none"] }, async (sink) => {
      for (let i = 0; i < 3; i++) expect((await sendOne({ port: sink.smtpPort, body })).code).toBe(250);
      const over = await sendOne({ port: sink.smtpPort, body });
      expect(over.code).toBe(451);
      expect(over.text).toMatch(/Too many messages from your address \(limit 3 per minute\)/);
      expect((await sendOne({ port: sink.smtpPort, from: "127.0.0.2", body })).code).toBe(250);
    });
  });

  test("--max-recipients: RCPT beyond it gets 452; the message goes to the first ones", async () => {
    await withSink({ "max-recipients": "3" }, async (sink) => {
      const w = (await greeted(sink.smtpPort)).w;
      await w.command("EHLO c.test");
      await w.command("MAIL FROM:<a@x.test>");
      for (let i = 0; i < 3; i++) expect((await w.command(`RCPT TO:<r${i}@x.test>`)).code).toBe(250);
      expect((await w.command("RCPT TO:<r3@x.test>")).code).toBe(452);
      expect((await w.command("DATA")).code).toBe(354);
      expect((await w.data(body)).code).toBe(250);
      w.close();
    });
  });

  test("the default recipient limit is 100", async () => {
    await withSink({}, async (sink) => {
      const w = (await greeted(sink.smtpPort)).w;
      await w.command("EHLO c.test");
      await w.command("MAIL FROM:<a@x.test>");
      // pipelined: all 101 in one write
      w.write(Array.from({ length: 101 }, (_, i) => `RCPT TO:<r${i}@x.test>\r\n`).join(""));
      const codes: number[] = [];
      for (let i = 0; i < 101; i++) codes.push((await w.reply()).code);
      expect(codes.filter((c) => c === 250)).toHaveLength(100);
      expect(codes[100]).toBe(452);
      w.close();
    });
  });

  test("--max-line-length: a longer command line gets 421 and the connection is closed", async () => {
    await withSink({ "max-line-length": "512" }, async (sink) => {
      const w = (await greeted(sink.smtpPort)).w;
      expect((await w.command(`NOOP ${"a".repeat(400)}`)).code).toBe(250);
      const r = await w.command(`NOOP ${"x".repeat(600)}`);
      expect(r.code).toBe(421);
      expect(r.text).toMatch(/too long/i);
      await w.waitClosed();
    });
  });
});

describe("timeouts", () => {
  test("--idle-timeout: a silent session gets 421 and is closed", async () => {
    await withSink({ "idle-timeout": "300ms" }, async (sink) => {
      const { w } = await greeted(sink.smtpPort);
      const t0 = Date.now();
      const r = await w.reply(5_000);
      expect(r.code).toBe(421);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
      await w.waitClosed();
    });
  });

  test("--session-timeout: a client that keeps talking (slow loris) is still cut off with 421", async () => {
    await withSink({ "session-timeout": "800ms", "idle-timeout": "10s" }, async (sink) => {
      const { w } = await greeted(sink.smtpPort);
      await w.command("EHLO c.test");
      await w.command("MAIL FROM:<a@x.test>");
      await w.command("RCPT TO:<b@x.test>");
      await w.command("DATA");
      const t0 = Date.now();
      // one header byte every 50 ms: the idle timer never fires
      const drip = setInterval(() => w.write("X"), 50);
      try {
        const r = await w.reply(5_000);
        expect(r.code).toBe(421);
        expect(r.text).toMatch(/Session time limit/);
        expect(Date.now() - t0).toBeLessThan(4_000);
        await w.waitClosed();
      } finally {
        clearInterval(drip);
      }
      expect((await sendOne({ port: sink.smtpPort, body })).code).toBe(250);
    });
  });
});

describe("--allow / --deny", () => {
  test("--deny: 554 on connect and the connection closed; other addresses are served", async () => {
    await withSink({ deny: ["127.0.0.2/32"] }, async (sink) => {
      const denied = await greeted(sink.smtpPort, "127.0.0.2");
      expect(denied.code).toBe(554);
      expect(denied.text).toMatch(/not accepted/);
      await denied.w.waitClosed();
      expect((await sendOne({ port: sink.smtpPort, body })).code).toBe(250);
    });
  });

  test("--allow: only listed networks get a greeting; deny wins over allow", async () => {
    await withSink({ allow: ["127.0.0.0/30"], deny: ["127.0.0.3"] }, async (sink) => {
      expect((await greeted(sink.smtpPort, "127.0.0.1")).code).toBe(220);
      expect((await greeted(sink.smtpPort, "127.0.0.2")).code).toBe(220);
      expect((await greeted(sink.smtpPort, "127.0.0.3")).code).toBe(554);
      expect((await greeted(sink.smtpPort, "127.0.0.9")).code).toBe(554);
    });
  });
});
