// The real `tun sink` process: flags, startup lines, log lines, restart,
// crash durability, graceful shutdown; and pruning.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { ulid } from "ulid";
import { afterAll, describe, expect, test } from "vitest";
import type { Message, MessageList, StreamFrame } from "../../protocol/wire.js";
import { spawnTestSink, startTestSink, TUN_BIN, type SpawnedSink } from "../helpers/sink.js";
import { SmtpWire, sendRaw } from "../helpers/smtp-wire.js";
import { deeplyNested } from "../helpers/nested-mime.js";
import { watchLoopGaps } from "../helpers/loop-gaps.js";
import { waitUntil } from "../helpers/poll.js";
import { Subscriber } from "./stream-client.js";

const execFileP = promisify(execFile);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDb(): string {
  const d = mkdtempSync(join(tmpdir(), "tun-sink-life-"));
  dirs.push(d);
  return join(d, "sink.db");
}

async function runTun(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [TUN_BIN, ...args], {
      env: { ...process.env, TUN_SINK_DB: "" },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function list(url: string, query = ""): Promise<MessageList> {
  return (await (await fetch(`${url}/api/v1/messages${query}`)).json()) as MessageList;
}

describe("flags", () => {
  test.each([
    [["--smtp", "localhost"], /^tun: --smtp \(or TUN_SINK_SMTP\): expected HOST:PORT/],
    [["--http", "1.2.3.4:99999"], /^tun: --http .*expected HOST:PORT/],
    [["--max-message-size", "lots"], /^tun: --max-message-size .*expected a size in bytes/],
    [["--max-messages", "-1"], /^tun: --max-messages .*expected a whole number/],
    [["--max-age", "forever"], /^tun: --max-age .*expected a duration/],
    [["--domain", "not a domain"], /^tun: --domain .*expected a domain name/],
    [["--no-such-flag"], /^tun: Unknown argument/],
  ])("tun sink %j -> one line naming the flag, exit code 2", async (args, pattern) => {
    const r = await runTun(["sink", ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("a port in use is one line, not a stack trace", async () => {
    const sink = await startTestSink();
    try {
      const r = await runTun([
        "sink",
        "--smtp",
        `127.0.0.1:${sink.smtpPort}`,
        "--http",
        "127.0.0.1:0",
        "--db",
        tempDb(),
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `^tun: sink not started: could not listen for SMTP on 127\\.0\\.0\\.1:${sink.smtpPort}: .*EADDRINUSE`,
        ),
      );
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    } finally {
      await sink.stop();
    }
  });
});

describe("the tun sink process", () => {
  let sink: SpawnedSink | undefined;
  afterAll(async () => {
    await sink?.stop();
  });

  test("prints where it listens and the database, then one plain log line per message", async () => {
    const dbPath = tempDb();
    sink = await spawnTestSink([], { dbPath });
    const lines = sink.output().trim().split("\n");
    expect(lines[0]).toBe(`[sink] smtp listening on 127.0.0.1:${sink.smtpPort}`);
    expect(lines[1]).toBe(`[sink] http listening on http://127.0.0.1:${sink.httpPort}`);
    expect(lines[2]).toBe(`[sink] database ${dbPath} (0 messages)`);

    const { stdout } = await execFileP("swaks", [
      "--server",
      `127.0.0.1:${sink.smtpPort}`,
      "--to",
      "qa@tun.test",
      "--from",
      "shop@x.test",
      "--header",
      'Subject: Welcome "home"',
    ]);
    const id = /queued as ([0-9A-Z]{26})/.exec(stdout)![1]!;
    await waitUntil("log line", () => sink!.output().includes(`accepted ${id}`), 5000);
    const line = sink
      .output()
      .split("\n")
      .find((l) => l.includes(`accepted ${id}`))!;
    expect(line).toMatch(
      new RegExp(
        `^\\[smtp\\] accepted ${id} from=<shop@x\\.test> to=<qa@tun\\.test> subject="Welcome \\\\"home\\\\"" size=\\d+ ip=127\\.0\\.0\\.1$`,
      ),
    );
    // stdout is a pipe: no colour codes
    expect(sink.output().includes("\u001b[")).toBe(false);
    const waited = (await (
      await fetch(`${sink.url}/api/v1/wait?to=qa@tun.test&timeout=5`)
    ).json()) as Message;
    expect(waited.id).toBe(id);
  });

  test("a large message the parser (in its worker thread) rejects is still stored", async () => {
    const body = deeplyNested(2000); // over 64 KiB: parsed in a worker
    expect(body.length).toBeGreaterThan(64 * 1024);
    const reply = await sendRaw(sink!.smtpPort, "deep@x.test", ["deep@tun.test"], body);
    expect(reply.code).toBe(250);
    const msg = (await (
      await fetch(`${sink!.url}/api/v1/messages/${reply.text.slice(-26)}`)
    ).json()) as Message;
    expect(msg.subject).toBe("nested too deep");
  });

  test("messages survive a restart", async () => {
    const dbPath = sink!.dbPath;
    const body = "Subject: keep me\r\n\r\nstill here after a restart\r\n";
    const reply = await sendRaw(sink!.smtpPort, "a@x.test", ["keep@tun.test"], body);
    expect(reply.code).toBe(250);
    const id = reply.text.slice(-26);
    await sink!.stop();
    sink = await spawnTestSink([], { dbPath });
    expect(sink.output()).toContain(`[sink] database ${dbPath} (3 messages)`);
    const raw = Buffer.from(await (await fetch(`${sink.url}/api/v1/messages/${id}/raw`)).arrayBuffer());
    expect(raw.toString()).toBe(body);
    expect((await list(sink.url)).total).toBe(3);
  });

  test("every message answered 250 survives SIGKILL mid-load, byte for byte, and the database is intact", async () => {
    const dbPath = tempDb();
    let victim = await spawnTestSink([], { dbPath });
    const accepted = new Map<string, string>();
    let stop = false;
    const senders = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const body = `Subject: load ${w}-${i}\r\n\r\n${"payload ".repeat(50)}${w}-${i}\r\n`;
        try {
          const r = await sendRaw(victim.smtpPort, "load@x.test", [`w${w}@kill.test`], body);
          if (r.code === 250) accepted.set(r.text.slice(-26), body);
        } catch {
          // connection dropped by the kill: this message was never acknowledged
        }
      }
    });
    await waitUntil("40 accepted messages", () => accepted.size >= 40, 15_000);
    victim.kill("SIGKILL");
    stop = true;
    await Promise.all(senders);
    await victim.stop();

    victim = await spawnTestSink([], { dbPath });
    try {
      for (const [id, body] of accepted) {
        const res = await fetch(`${victim.url}/api/v1/messages/${id}/raw`);
        expect(res.status, id).toBe(200);
        expect(await res.text()).toBe(body);
      }
      const db = new Database(dbPath, { readonly: true });
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      db.close();
    } finally {
      await victim.stop();
    }
  });

  test("SIGTERM: stops accepting, lets a session finish within the grace period, 421 to the idle rest, exits 0", async () => {
    const dbPath = tempDb();
    const s = await spawnTestSink(["--shutdown-grace", "2s"], { dbPath });
    const busy = await SmtpWire.open({ port: s.smtpPort, encoding: "utf8" });
    await busy.reply();
    await busy.command("EHLO busy.test");
    expect((await busy.command("MAIL FROM:<busy@x.test>")).code).toBe(250);
    const idle = await SmtpWire.open({ port: s.smtpPort, encoding: "utf8" });
    await idle.reply();
    await idle.command("EHLO idle.test");

    const exited = new Promise<number | null>((resolve) => s.child.once("close", (code) => resolve(code)));
    s.kill("SIGTERM");
    await waitUntil("shutdown notice", () => s.output().includes("SIGTERM: shutting down"), 5000);
    // no new connections
    await waitUntil(
      "listener closed",
      () =>
        new Promise<boolean>((resolve) => {
          const c = connect(s.smtpPort, "127.0.0.1");
          c.once("connect", () => {
            c.destroy();
            resolve(false);
          });
          c.once("error", () => resolve(true));
        }),
      5000,
    );
    // the busy session finishes its transaction
    expect((await busy.command("RCPT TO:<late@tun.test>")).code).toBe(250);
    expect((await busy.command("DATA")).code).toBe(354);
    const done = await busy.data("Subject: finished during shutdown\r\n\r\nok\r\n");
    expect(done.code).toBe(250);
    // the idle one gets 421 once the grace period is over
    const bye = await idle.reply(5000);
    expect(bye.code).toBe(421);
    expect(await exited).toBe(0);
    expect(s.output()).toContain("[sink] stopped");
    busy.close();
    idle.close();
    await s.stop();

    const again = await spawnTestSink([], { dbPath });
    try {
      expect((await list(again.url, "?to=late@tun.test")).total).toBe(1);
    } finally {
      await again.stop();
    }
  });
});

describe("pruning", () => {
  test("beyond --max-messages the oldest are deleted, and subscribers hear about it", async () => {
    const sink = await startTestSink({ maxMessages: 5 });
    try {
      const sub = await Subscriber.open(sink.url);
      const ids: string[] = [];
      for (let i = 0; i < 8; i++)
        ids.push(
          (
            await sendRaw(sink.smtpPort, "p@x.test", ["p@prune.test"], `Subject: ${i}\r\n\r\nx\r\n`)
          ).text.slice(-26),
        );
      await waitUntil("5 messages left", async () => (await list(sink.url)).total === 5, 5000);
      expect((await list(sink.url)).messages.map((m) => m.id)).toEqual(ids.slice(3).reverse());
      const deleted = (f: StreamFrame) => (f.type === "deleted" ? f.data.ids : []);
      await sub.until(() => sub.frames.flatMap(deleted).length >= 3);
      expect(sub.frames.flatMap(deleted).sort()).toEqual(ids.slice(0, 3));
      sub.close();
    } finally {
      await sink.stop();
    }
  });

  test("pruning a 30k backlog runs in small batches and never stalls the event loop for long", async () => {
    // 30,000 stored messages, then a sink that keeps 100: it prunes 29,900 at startup
    const dbPath = tempDb();
    const seed = await startTestSink({ dbPath });
    await sendRaw(seed.smtpPort, "seed@x.test", ["seed@prune.test"], "Subject: seed\r\n\r\nx\r\n");
    await seed.stop();
    const db = new Database(dbPath);
    const copy = db.prepare(
      `INSERT INTO messages (id, received_at, envelope_from, envelope_to, remote_ip, helo_name, tls, auth_user, size, raw,
         from_json, to_json, cc_json, subject, subject_lc, snippet, message_id, date, headers_json, text, html, attachments_json)
       SELECT ?, received_at, envelope_from, envelope_to, remote_ip, helo_name, tls, auth_user, size, raw,
         from_json, to_json, cc_json, subject, subject_lc, snippet, message_id, date, headers_json, text, html, attachments_json
       FROM messages LIMIT 1`,
    );
    const addr = db.prepare(
      "INSERT INTO addresses (seq, kind, address, rdomain) VALUES (?, 0, 'seed@prune.test', 'test.prune.')",
    );
    // full-text rows too, so startup has no indexing to catch up on
    const fts = db.prepare(
      "INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (?, 'seed', '', 'x')",
    );
    db.transaction(() => {
      for (let i = 0; i < 29_999; i++) {
        const seq = copy.run(ulid()).lastInsertRowid;
        addr.run(seq);
        fts.run(seq);
      }
    })();
    db.close();

    // measured from before startup: a prune done in one go at startup would show here
    const loop = watchLoopGaps(5);
    const sink = await startTestSink({ dbPath, maxMessages: 100 });
    try {
      await waitUntil("pruned to 100", async () => (await list(sink.url, "?limit=1")).total === 100, 30_000);
      // issue 7's target is 100 ms; leave headroom for a loaded CI machine
      expect(loop.maxGapMs()).toBeLessThan(250);
    } finally {
      loop.stop();
      await sink.stop();
    }
  });

  test("messages older than --max-age are deleted (checked at startup and periodically)", async () => {
    const dbPath = tempDb();
    let sink = await spawnTestSink([], { dbPath });
    const old = (
      await sendRaw(sink.smtpPort, "o@x.test", ["old@prune.test"], "Subject: old\r\n\r\nx\r\n")
    ).text.slice(-26);
    await sink.stop();
    // age it by 8 days behind the sink's back
    const db = new Database(dbPath);
    db.prepare("UPDATE messages SET received_at = received_at - ? WHERE id = ?").run(8 * 86_400_000, old);
    db.close();
    sink = await spawnTestSink([], { dbPath });
    try {
      const fresh = (
        await sendRaw(sink.smtpPort, "n@x.test", ["new@prune.test"], "Subject: new\r\n\r\nx\r\n")
      ).text.slice(-26);
      await waitUntil("old message pruned", async () => (await list(sink.url)).total === 1, 5000);
      expect((await list(sink.url)).messages.map((m) => m.id)).toEqual([fresh]);
    } finally {
      await sink.stop();
    }
  });
});
