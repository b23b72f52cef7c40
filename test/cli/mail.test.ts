// `tun mail …` as a user runs it: the real binary against a real sink.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SinkClient } from "../../client/index.js";
import { isolatedPath } from "../helpers/isolated-path.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { sendMail, uniqueAddress } from "../client/send-mail.js";
import { runTun, startTun } from "./tun-process.js";

let sink: TestSink;
let client: SinkClient;
const tempDirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tun-mail-test-"));
  tempDirs.push(d);
  return d;
}

beforeAll(async () => {
  sink = await startTestSink();
  client = new SinkClient(sink.url);
});
afterAll(async () => {
  await sink?.stop();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

const mail = (...args: string[]) => runTun(["mail", ...args, "--sink", sink.url]);

/** Ids in the first column of `tun mail ls` output (header skipped). */
const tableIds = (stdout: string): string[] =>
  stdout
    .trimEnd()
    .split("\n")
    .slice(1)
    .map((l) => l.split(/\s+/)[0]!);

async function deletedId(): Promise<string> {
  const id = await sendMail(sink.smtpPort, { to: uniqueAddress("gone"), subject: "gone", text: "x" });
  await client.delete({ id });
  return id;
}

describe("tun mail ls", () => {
  test("a table newest first, with --to --from --subject --limit filters, and --json", async () => {
    const to = uniqueAddress("ls");
    const a = await sendMail(sink.smtpPort, { to, subject: "Welcome aboard", text: "1" });
    const b = await sendMail(sink.smtpPort, { to, from: "billing@pay.test", subject: "Invoice", text: "2" });
    const c = await sendMail(sink.smtpPort, { to, subject: "Your code", text: "3" });

    const all = await mail("ls", "--to", to);
    expect(all.code).toBe(0);
    expect(all.stdout.split("\n")[0]).toMatch(/^ID\s+RECEIVED\s+FROM\s+TO\s+SIZE\s+SUBJECT$/);
    expect(tableIds(all.stdout)).toEqual([c, b, a]);
    expect(all.stdout).toMatch(new RegExp(`^${b}\\s.*billing@pay\\.test\\s+${escape(to)}\\s.*Invoice$`, "m"));

    const [bySubject, byFrom, limited, json, none] = await Promise.all([
      mail("ls", "--to", to, "--subject", "CODE"),
      mail("ls", "--to", to, "--from", "@pay.test"),
      mail("ls", "--to", to, "--limit", "2"),
      mail("ls", "--to", to, "--json"),
      mail("ls", "--to", uniqueAddress("nobody")),
    ]);
    expect(tableIds(bySubject.stdout)).toEqual([c]);
    expect(tableIds(byFrom.stdout)).toEqual([b]);
    expect(tableIds(limited.stdout)).toEqual([c, b]);
    expect(limited.stderr).toBe("[mail] 2 of 3 shown; --limit N shows more\n");

    const lines = json.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual((await client.list({ to })).messages);

    expect(none).toMatchObject({ code: 0, stdout: "no messages\n" });
  });

  test("--q searches the full text and --since keeps only later messages", async () => {
    const to = uniqueAddress("lsq");
    const a = await sendMail(sink.smtpPort, { to, subject: "first", text: "the parcel zebracode is ready" });
    const b = await sendMail(sink.smtpPort, { to, subject: "second", text: "nothing to see" });
    const c = await sendMail(sink.smtpPort, { to, subject: "third", text: "another zebracode here" });
    const [byQ, since, both, sinceTime] = await Promise.all([
      mail("ls", "--to", to, "--q", "zebracode"),
      mail("ls", "--to", to, "--since", a),
      mail("ls", "--to", to, "--since", a, "--q", "zebracode"),
      mail("ls", "--to", to, "--since", (await client.get(b)).receivedAt),
    ]);
    expect(tableIds(byQ.stdout)).toEqual([c, a]);
    expect(tableIds(since.stdout)).toEqual([c, b]);
    expect(tableIds(both.stdout)).toEqual([c]);
    expect(tableIds(sinceTime.stdout)).toEqual([c, b]);
  });

  test("an empty filter value is a usage error, never 'everything'", async () => {
    for (const flag of ["--q", "--subject", "--since", "--to"]) {
      const r = await mail("ls", flag, " ");
      expect({ flag, code: r.code, stderr: r.stderr }).toEqual({
        flag,
        code: 2,
        stderr: `tun: ${flag}: give a value, or leave the flag out\n`,
      });
    }
    const bad = await mail("ls", "--since", "yesterday");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^tun: the sink refused the request: .*"yesterday".*\(bad_request\)\n$/);
  });

  test("a bad --limit is a usage error", async () => {
    const r = await mail("ls", "--limit", "0");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('tun: --limit: expected a whole number of at least 1, got "0"\n');
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("tun mail show / raw", () => {
  test("show prints headers and the text body", async () => {
    const to = uniqueAddress("show");
    const id = await sendMail(sink.smtpPort, {
      to,
      subject: "Details",
      text: "Line one\nLine two\n",
      attachments: [{ filename: "a.txt", content: "hello" }],
    });
    const r = await mail("show", id);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^ID: +${id}$`, "m"));
    expect(r.stdout).toMatch(/^From: +Shop <noreply@shop\.test>$/m);
    expect(r.stdout).toMatch(new RegExp(`^To: +${escape(to)}$`, "m"));
    expect(r.stdout).toMatch(/^Subject: +Details$/m);
    expect(r.stdout).toMatch(/\n\nLine one\nLine two\n+$/);
  });

  test("show lists each attachment with the id tun mail save takes", async () => {
    const id = await sendMail(sink.smtpPort, {
      to: uniqueAddress("showatt"),
      subject: "Two files",
      text: "see attached",
      attachments: [
        { filename: "a.txt", content: "hello" },
        { filename: "b.bin", content: Buffer.alloc(2048, 7), contentType: "application/octet-stream" },
      ],
    });
    const atts = (await client.get(id)).attachments;
    const r = await mail("show", id);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Attachment ${atts[0]!.id}: a.txt (text/plain, 5 B)\n`);
    expect(r.stdout).toContain(`Attachment ${atts[1]!.id}: b.bin (application/octet-stream, 2 KB)\n`);
  });

  test("raw writes the exact bytes received", async () => {
    const to = uniqueAddress("raw");
    const raw = Buffer.concat([
      Buffer.from(
        `From: a@shop.test\r\nTo: ${to}\r\nSubject: raw\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`,
      ),
      Buffer.from([0xc3, 0xa9, 0xff, 0x0d, 0x0a]), // 8-bit, including a byte that is not valid UTF-8
    ]);
    const t = nodemailer.createTransport({ host: "127.0.0.1", port: sink.smtpPort, ignoreTLS: true });
    const info = await t.sendMail({ envelope: { from: "a@shop.test", to: [to] }, raw });
    t.close();
    const id = /queued as (\S+)/.exec(info.response)![1]!;
    const r = await mail("raw", id);
    expect(r.code).toBe(0);
    expect(r.stdoutBytes.equals(raw)).toBe(true);
  });

  test("an unknown id is one line and exit 1", async () => {
    const id = await deletedId();
    const subs = ["show", "raw", "open"];
    const runs = await Promise.all(subs.map((sub) => mail(sub, id)));
    subs.forEach((sub, i) => {
      expect({ sub, code: runs[i]!.code, stderr: runs[i]!.stderr }).toEqual({
        sub,
        code: 1,
        stderr: `tun: no message with id ${id} in the sink (see tun mail ls)\n`,
      });
    });
  });
});

describe("tun mail open", () => {
  const html = '<p>Hi <img src="cid:logo@shop"></p><script>document.title="ran"</script>';
  const png = Buffer.from("89504e470d0a1a0a", "hex");
  const sendHtml = () =>
    sendMail(sink.smtpPort, {
      to: uniqueAddress("open"),
      subject: "HTML",
      html,
      attachments: [{ filename: "logo.png", content: png, contentType: "image/png", cid: "logo@shop" }],
    });

  test("without a browser it prints the path of the safe page (PATH has no xdg-open)", async () => {
    const id = await sendHtml();
    const path = isolatedPath();
    try {
      const r = await runTun(["mail", "open", id, "--sink", sink.url], path.env);
      expect(r.code).toBe(0);
      const file = r.stdout.trimEnd();
      tempDirs.push(dirname(file));
      expect(file).toMatch(new RegExp(`tun-mail-[^/]+/${id}\\.html$`));
      expect(r.stderr).toBe(
        "[mail] could not start a browser (xdg-open not found); open the file above yourself\n",
      );
      const saved = readFileSync(file, "utf8");
      expect(saved).toContain(
        `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'">`,
      );
      // The inline image is in the page itself; the script is gone.
      expect(saved).toContain(`<p>Hi <img src="data:image/png;base64,${png.toString("base64")}" /></p>`);
      expect(saved).not.toContain("<script");
      expect(saved).not.toContain("cid:");
    } finally {
      path.remove();
    }
  });

  test("with an opener on PATH it hands it the file", async () => {
    // A stand-in for xdg-open (no browser on CI): records what it was asked to open.
    const record = join(tempDir(), "opened.txt");
    const path = isolatedPath({ "xdg-open": `printf '%s' "$1" > '${record}'` });
    try {
      const id = await sendHtml();
      const r = await runTun(["mail", "open", id, "--sink", sink.url], path.env);
      expect(r.code).toBe(0);
      const file = r.stdout.trimEnd();
      tempDirs.push(dirname(file));
      expect(r.stderr).toBe("");
      expect(readFileSync(record, "utf8")).toBe(file);
    } finally {
      path.remove();
    }
  });

  test("an opener that fails is reported, and the path is still printed", async () => {
    const path = isolatedPath({ "xdg-open": "exit 4" });
    try {
      const id = await sendHtml();
      const r = await runTun(["mail", "open", id, "--sink", sink.url], path.env);
      expect(r.code).toBe(0);
      tempDirs.push(dirname(r.stdout.trimEnd()));
      expect(r.stderr).toBe(
        "[mail] could not start a browser (xdg-open exited with code 4); open the file above yourself\n",
      );
    } finally {
      path.remove();
    }
  });

  test("a message without HTML says so (exit 1)", async () => {
    const id = await sendMail(sink.smtpPort, { to: uniqueAddress("text"), subject: "t", text: "plain" });
    const r = await mail("open", id);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`tun: message ${id} has no HTML part; see its text with: tun mail show ${id}\n`);
  });
});

describe("tun mail wait", () => {
  const WAITING = "arriving from now on\n";

  test("exits 0 with the message once it arrives", async () => {
    const to = uniqueAddress("wait");
    const waiting = startTun(["mail", "wait", "--sink", sink.url, "--to", to, "--subject", "code"]);
    await waiting.waitFor("the waiting line", (_o, e) => e.endsWith(WAITING));
    expect(waiting.stderr()).toBe(
      `[mail] waiting for mail to ${to} with subject containing "code" ${WAITING}`,
    );
    await sendMail(sink.smtpPort, { to, subject: "something else", text: "no" });
    const id = await sendMail(sink.smtpPort, { to, subject: "Your code", text: "Code: 7788" });
    const { code } = await waiting.exited;
    expect(code).toBe(0);
    expect(waiting.stdout()).toContain(`=== NEW EMAIL === `);
    expect(waiting.stdout()).toContain(`  ${id}\n[SMTP] From: Shop <noreply@shop.test>\n`);
    expect(waiting.stdout()).toContain("  Code: 7788\n");
  });

  test("a match stored before it started is ignored: a re-run never passes on old mail", async () => {
    const to = uniqueAddress("rerun");
    const old = await sendMail(sink.smtpPort, { to, subject: "Your code", text: "old" });
    const first = await mail("wait", "--to", to, "--timeout", "1");
    expect(first.code).toBe(1);
    expect(first.stdout).toBe("");

    const waiting = startTun(["mail", "wait", "--sink", sink.url, "--to", to, "--json"]);
    await waiting.waitFor("the waiting line", (_o, e) => e.endsWith(WAITING));
    const fresh = await sendMail(sink.smtpPort, { to, subject: "Your code", text: "new" });
    expect((await waiting.exited).code).toBe(0);
    expect((JSON.parse(waiting.stdout()) as { id: string }).id).toBe(fresh);
    expect(fresh).not.toBe(old);
  });

  test("--since ID or TIME also accepts mail stored before it started", async () => {
    const to = uniqueAddress("waitsince");
    const before = await sendMail(sink.smtpPort, { to, subject: "x", text: "0" });
    const stored = await sendMail(sink.smtpPort, { to, subject: "stored", text: "x" });
    const byId = await mail("wait", "--to", to, "--since", before, "--json");
    expect(byId.code).toBe(0);
    expect(JSON.parse(byId.stdout)).toEqual(await client.get(stored));
    expect(byId.stderr).toBe(`[mail] waiting for mail to ${to} after ${before}\n`);
    const byTime = await mail("wait", "--to", to, "--since", (await client.get(before)).receivedAt, "--json");
    expect((JSON.parse(byTime.stdout) as { id: string }).id).toBe(stored);
  });

  test("exit 1 on timeout, with one line saying what it waited for", async () => {
    const to = uniqueAddress("nobody");
    const r = await mail("wait", "--to", to, "--subject", "Welcome", "--timeout", "1");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n").slice(1)).toEqual([
      `tun: no message to ${to} with subject containing "Welcome" arrived within 1s`,
      "",
    ]);
  });

  test("a bad --timeout or missing --to is a usage error", async () => {
    const bad = await mail("wait", "--to", "a@b.test", "--timeout", "soon");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('tun: --timeout: expected a duration like 30, 90s or 5m, got "soon"\n');
    expect((await mail("wait")).code).toBe(2);
  });
});

describe("tun mail rm / clear", () => {
  test("rm deletes the given ids; an unknown one is exit 1 after the rest are gone", async () => {
    const to = uniqueAddress("rm");
    const a = await sendMail(sink.smtpPort, { to, subject: "a", text: "a" });
    const b = await sendMail(sink.smtpPort, { to, subject: "b", text: "b" });
    const keep = await sendMail(sink.smtpPort, { to, subject: "keep", text: "c" });
    expect(await mail("rm", a, b)).toMatchObject({ code: 0, stdout: "deleted 2 messages\n" });
    expect((await client.list({ to })).messages.map((m) => m.id)).toEqual([keep]);

    const unknown = await deletedId();
    const r = await mail("rm", keep, unknown);
    expect(r).toMatchObject({ code: 1, stdout: "deleted 1 message\n" });
    expect(r.stderr).toBe(`tun: no message with id ${unknown} in the sink (see tun mail ls)\n`);
    expect((await client.list({ to })).total).toBe(0);
  });

  test("clear --to deletes only that recipient's mail; clear deletes everything", async () => {
    const own = await startTestSink();
    try {
      const mine = uniqueAddress("mine");
      await sendMail(own.smtpPort, { to: mine, subject: "1", text: "1" });
      await sendMail(own.smtpPort, { to: mine, subject: "2", text: "2" });
      await sendMail(own.smtpPort, { to: uniqueAddress("other"), subject: "3", text: "3" });
      const scoped = await runTun(["mail", "clear", "--to", mine, "--sink", own.url]);
      expect(scoped).toMatchObject({ code: 0, stdout: `deleted 2 messages to ${mine}\n` });
      const ownClient = new SinkClient(own.url);
      expect((await ownClient.list()).total).toBe(1);
      const all = await runTun(["mail", "clear", "--sink", own.url]);
      expect(all).toMatchObject({ code: 0, stdout: "deleted 1 message\n" });
      expect((await ownClient.health()).messages).toBe(0);
    } finally {
      await own.stop();
    }
  });
});

test("every mail command answers an unreachable sink with one line and exit 3", async () => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  const url = `http://127.0.0.1:${port}`;
  const id = "01JD0000000000000000000000";
  const runs = await Promise.all(
    [
      ["ls"],
      ["show", id],
      ["raw", id],
      ["open", id],
      ["save", id],
      ["wait", "--to", "a@b.test"],
      ["rm", id],
      ["clear"],
    ].map((args) => runTun(["mail", ...args, "--sink", url])),
  );
  for (const r of runs) {
    expect({ code: r.code, stderr: r.stderr }).toEqual({
      code: 3,
      stderr: `tun: cannot reach the sink at ${url}: connection refused\n`,
    });
  }
});
