// `tun watch` as a user runs it: the real binary against a real sink, stdout captured.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SinkClient } from "../../client/index.js";
import { spawnTestSink, startTestSink, type SpawnedSink, type TestSink } from "../helpers/sink.js";
import { sendMail, uniqueAddress } from "../client/send-mail.js";
import { waitUntil } from "../helpers/poll.js";
import { startTun, TUN_BIN } from "./tun-process.js";

const CONNECTED = "[watch] watching ";
const RECONNECTING = "[watch] connection to the sink lost; reconnecting…";
const RECONNECTED = "[watch] reconnected";
const ESC = String.fromCharCode(27);
const ANSI = ESC + "[";

function localClock(iso: string): string {
  const d = new Date(iso);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** Ids of the messages printed in plain mode, in order. */
function printedIds(stdout: string): string[] {
  return [...stdout.matchAll(/^\[SMTP\] === NEW EMAIL === \d\d:\d\d:\d\d {2}(\S+)$/gm)].map((m) => m[1]!);
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

describe("with an in-process sink", () => {
  let sink: TestSink;
  let client: SinkClient;
  beforeAll(async () => {
    sink = await startTestSink();
    client = new SinkClient(sink.url);
  });
  afterAll(async () => {
    await sink?.stop();
  });

  test("prints each message as the issue's [SMTP] block, plain when stdout is not a terminal", async () => {
    const to = uniqueAddress("qa");
    const watch = startTun(["watch", "--sink", sink.url, "--to", to]);
    try {
      await watch.waitFor("the connected line", (_o, e) => e.includes(CONNECTED));
      const id = await sendMail(sink.smtpPort, {
        to,
        subject: "Confirm your account",
        text: "Hi QA, your code is 482913\nConfirm: https://shop.test/confirm?t=abc\n",
        attachments: [{ filename: "invoice.pdf", content: Buffer.alloc(34 * 1024, 1) }],
      });
      await watch.waitFor("the message block", (o) => o.includes("https://shop.test/confirm?t=abc"));
      const msg = await client.get(id);
      expect(watch.stdout()).toBe(
        [
          `[SMTP] === NEW EMAIL === ${localClock(msg.receivedAt)}  ${id}`,
          "[SMTP] From: Shop <noreply@shop.test>",
          `[SMTP] To: ${to}`,
          "[SMTP] Subject: Confirm your account",
          "[SMTP] Code: 482913",
          "[SMTP] Attachments: invoice.pdf (34 KB)",
          "  Hi QA, your code is 482913",
          "  Confirm: https://shop.test/confirm?t=abc",
          "",
          "",
        ].join("\n"),
      );
      expect(watch.stdout()).not.toContain(ANSI);
      expect(watch.stderr()).toBe(`${CONNECTED}${sink.url} for messages to ${to}; Ctrl-C to stop\n`);
    } finally {
      expect((await watch.stop("SIGINT")).code).toBe(130);
    }
  });

  test("--json prints one message frame's data per line, and --to filters", async () => {
    const to = uniqueAddress("json");
    const watch = startTun(["watch", "--sink", sink.url, "--to", to, "--json"]);
    try {
      await watch.waitFor("the connected line", (_o, e) => e.includes(CONNECTED));
      const a = await sendMail(sink.smtpPort, { to, subject: "first", html: "<p>HTML <b>only</b></p>" });
      await sendMail(sink.smtpPort, { to: uniqueAddress("someone-else"), subject: "not for this watch" });
      const b = await sendMail(sink.smtpPort, { to, subject: "second", text: "plain" });
      await watch.waitFor("two JSON lines", (o) => o.split("\n").length >= 3);
      const lines = watch.stdout().trimEnd().split("\n");
      expect(lines).toHaveLength(2);
      const parsed = lines.map((l) => JSON.parse(l) as { id: string });
      expect(parsed.map((m) => m.id)).toEqual([a, b]);
      expect(parsed[0]).toEqual(await client.get(a));
      expect(parsed[1]).toEqual(await client.get(b));
    } finally {
      await watch.stop();
    }
  });

  test("--since replays the stored messages after that id, then continues live", async () => {
    const to = uniqueAddress("since");
    const first = await sendMail(sink.smtpPort, { to, subject: "1", text: "one" });
    const second = await sendMail(sink.smtpPort, { to, subject: "2", text: "two" });
    const watch = startTun(["watch", "--sink", sink.url, "--to", to, "--since", first]);
    try {
      await watch.waitFor("the replayed message", (o) => o.includes(second));
      const third = await sendMail(sink.smtpPort, { to, subject: "3", text: "three" });
      await watch.waitFor("the live message", (o) => o.includes(third));
      expect(printedIds(watch.stdout())).toEqual([second, third]);
    } finally {
      await watch.stop();
    }
  });

  test("a message sent with swaks is printed within a fraction of a second", async () => {
    const to = uniqueAddress("swaks");
    const watch = startTun(["watch", "--sink", sink.url, "--to", to]);
    try {
      await watch.waitFor("the connected line", (_o, e) => e.includes(CONNECTED));
      const swaks = spawn(
        "swaks",
        [
          "--server",
          "127.0.0.1",
          "--port",
          String(sink.smtpPort),
          "--to",
          to,
          "--from",
          "qa@shop.test",
        ].concat(["--header", "Subject: via swaks", "--body", "Your code is 654321", "--silent", "2"]),
        { stdio: "ignore" },
      );
      const code = await new Promise<number | null>((r) => swaks.once("close", r));
      expect(code).toBe(0);
      const accepted = Date.now();
      await watch.waitFor("the swaks message", (o) => o.includes("Your code is 654321"));
      expect(Date.now() - accepted).toBeLessThan(1_000);
      expect(watch.stdout()).toContain("[SMTP] Subject: via swaks\n");
    } finally {
      await watch.stop();
    }
  });

  // util-linux `script` gives the binary a real pseudo-terminal as stdout.
  test.skipIf(!existsSync("/usr/bin/script"))(
    "colours on a terminal, and not when NO_COLOR is set",
    async () => {
      for (const noColor of [undefined, "1"]) {
        const to = uniqueAddress("tty");
        const env: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm" };
        delete env.NO_COLOR;
        delete env.FORCE_COLOR;
        if (noColor) env.NO_COLOR = noColor;
        const cmd = `exec '${process.execPath}' '${TUN_BIN}' watch --sink ${sink.url} --to ${to}`;
        const child = spawn("/usr/bin/script", ["-qfec", cmd, "/dev/null"], {
          env,
          stdio: ["pipe", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
        const closed = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
        try {
          await waitUntil("the connected line", () => out.includes(CONNECTED));
          const id = await sendMail(sink.smtpPort, { to, subject: "tty", text: "code 123456" });
          await waitUntil("the message", () => out.includes(id) && out.includes("123456"));
          if (noColor) expect(out).not.toContain(ANSI);
          else expect(out).toMatch(new RegExp(`${ESC}\\[[0-9;]*m123456${ESC}\\[`));
          // Ctrl-C typed into the terminal: watch stops with 128 + SIGINT.
          child.stdin.write("\x03");
          expect(await closed).toBe(130);
        } finally {
          child.kill("SIGKILL");
          await closed;
        }
      }
    },
  );
});

test("a malformed --since is a usage error from the sink's answer (exit 2)", async () => {
  const sink = await startTestSink();
  try {
    const watch = startTun(["watch", "--sink", sink.url, "--since", "nope"]);
    expect((await watch.exited).code).toBe(2);
    expect(watch.stderr()).toMatch(/^tun: the sink refused the request: .*"nope".*\(bad_request\)\n$/);
  } finally {
    await sink.stop();
  }
});

test("killing and restarting the sink mid-stream loses nothing and prints nothing twice", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tun-watch-restart-"));
  const dbPath = join(dir, "sink.db");
  const to = uniqueAddress("restart");
  let first: SpawnedSink | null = await spawnTestSink([], { dbPath });
  let second: SpawnedSink | null = null;
  const watch = startTun(["watch", "--sink", first.url, "--to", to]);
  try {
    await watch.waitFor("the connected line", (_o, e) => e.includes(CONNECTED));
    const sent = [await sendMail(first.smtpPort, { to, subject: "before the crash", text: "1" })];
    await watch.waitFor("the first message", (o) => o.includes(sent[0]!));

    const { smtpPort, httpPort } = first;
    first.kill("SIGKILL");
    await first.stop();
    first = null;
    await watch.waitFor("the reconnecting notice", (_o, e) => e.includes(RECONNECTING));

    second = await spawnTestSink(["--smtp", `127.0.0.1:${smtpPort}`, "--http", `127.0.0.1:${httpPort}`], {
      dbPath,
    });
    // Likely sent before watch has reconnected: it must get them through its resume.
    sent.push(await sendMail(smtpPort, { to, subject: "right after the restart", text: "2" }));
    sent.push(await sendMail(smtpPort, { to, subject: "right after the restart", text: "3" }));
    // Backoff tops out at 5 s, so allow for a slow sink start plus one full retry delay.
    await watch.waitFor("the reconnected notice", (_o, e) => e.includes(RECONNECTED), 20_000);
    sent.push(await sendMail(smtpPort, { to, subject: "after reconnecting", text: "4" }));
    await watch.waitFor("the last message", (o) => o.includes(sent[3]!));

    expect(printedIds(watch.stdout())).toEqual(sent);
    expect(count(watch.stderr(), RECONNECTING)).toBe(1);
    expect(count(watch.stderr(), RECONNECTED)).toBe(1);
  } finally {
    await watch.stop();
    await first?.stop();
    await second?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an unreachable sink is one line and exit code 3", async () => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  const watch = startTun(["watch", "--sink", `http://127.0.0.1:${port}`]);
  const { code } = await watch.exited;
  expect(code).toBe(3);
  expect(watch.stderr()).toBe(`tun: cannot reach the sink at http://127.0.0.1:${port}: connection refused\n`);
  expect(watch.stdout()).toBe("");
});

test("a bad --to is a usage error (exit 2) naming the flag", async () => {
  const watch = startTun(["watch", "--to", "not-an-address"]);
  expect((await watch.exited).code).toBe(2);
  expect(watch.stderr()).toMatch(/^tun: --to: expected an address .*"not-an-address"\n$/);
});
