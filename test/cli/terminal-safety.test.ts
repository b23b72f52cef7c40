// Captured mail is hostile: no control character it carries may reach the
// terminal through tun watch (on a real pty and in a pipe), tun mail ls /
// show / wait, or the sink's own log. Each output is also checked for the
// visible escapes, so a test passes only when the text was shown, not dropped.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SinkClient } from "../../client/index.js";
import { spawnTestSink, startTestSink, type SpawnedSink, type TestSink } from "../helpers/sink.js";
import { waitUntil } from "../helpers/poll.js";
import { uniqueAddress } from "../client/send-mail.js";
import { controlCharacters, sendHostileEncoded, sendHostileRaw, VISIBLE, HOSTILE } from "./hostile-text.js";
import { runTun, startTun, TUN_BIN } from "./tun-process.js";

const CONNECTED = "[watch] watching ";
/** The smallest message id: `--since` it replays every stored message. */
const FROM_THE_START = "00000000000000000000000000";
/** util-linux `script`: gives the binary a real pseudo-terminal as stdout. */
const SCRIPT = "/usr/bin/script";

let sink: TestSink;
let to: string;
let ids: string[];
beforeAll(async () => {
  sink = await startTestSink();
  to = uniqueAddress("hostile");
  ids = [await sendHostileEncoded(sink.smtpPort, to), await sendHostileRaw(sink.smtpPort, to)];
});
afterAll(() => sink?.stop());

function expectSafe(what: string, output: string): void {
  expect({ what, leaked: controlCharacters(output) }).toEqual({ what, leaked: [] });
}

function expectVisible(output: string, escapes = VISIBLE): void {
  for (const e of escapes) expect(output).toContain(e);
}

test("the corpus really reaches the sink with its control characters (else the tests below prove nothing)", async () => {
  const client = new SinkClient(sink.url);
  const [encoded, raw] = await Promise.all(ids.map((id) => client.get(id)));
  expect(encoded!.subject).toContain(HOSTILE.clipboard);
  expect(encoded!.from!.name).toContain(HOSTILE.title);
  expect(encoded!.attachments[0]!.filename).toContain("\u202e");
  expect(encoded!.text).toContain(HOSTILE.link);
  expect(raw!.subject).toContain(HOSTILE.title);
  expect(raw!.text).toContain("\u009b2J");
  expect(raw!.text).toContain("\u0000");
});

describe("tun mail", () => {
  test("ls, in a table and as JSON", async () => {
    const table = await runTun(["mail", "ls", "--to", to, "--sink", sink.url]);
    expect(table.code).toBe(0);
    expectSafe("ls", table.stdout + table.stderr);
    expectVisible(table.stdout, ["\\x1b]0;pwned\\x07", "\\u202e"]);

    const json = await runTun(["mail", "ls", "--to", to, "--json", "--sink", sink.url]);
    expectSafe("ls --json", json.stdout);
    // Still JSON, and still the same values.
    const parsed = json.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { subject: string });
    expect(parsed.map((m) => m.subject)).toEqual(
      (await new SinkClient(sink.url).list({ to })).messages.map((m) => m.subject),
    );
  });

  test("show, headers, attachment names and body", async () => {
    for (const id of ids) {
      const r = await runTun(["mail", "show", id, "--sink", sink.url]);
      expect(r.code).toBe(0);
      expectSafe(`show ${id}`, r.stdout + r.stderr);
    }
    const encoded = await runTun(["mail", "show", ids[0]!, "--sink", sink.url]);
    expectVisible(encoded.stdout);
    // The body keeps its lines and its tab; each hostile line is one printed line.
    expect(encoded.stdout).toContain("\n\tindented \\x1b]8;;http://evil.example/");
    expect(encoded.stdout).toMatch(/^Attachment 1: report\\x1b\]52;c;.*\\u202e.*\.txt \(text\/plain/m);
  });

  test("wait --since, and an error quoting a hostile flag value", async () => {
    const r = await runTun(["mail", "wait", "--to", to, "--since", ids[0]!, "--sink", sink.url]);
    expect(r.code).toBe(0);
    expectSafe("wait", r.stdout + r.stderr);
    expectVisible(r.stdout, ["\\x1b]0;pwned\\x07", "\\x9b2J"]);

    // the sink refuses control characters in an address filter (400); the CLI quotes its answer escaped
    const bad = await runTun(["mail", "ls", "--to", `x${HOSTILE.title}@evil.test`, "--sink", sink.url]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("\\x1b]0;pwned\\x07");
    const refused = await runTun(["mail", "ls", "--since", HOSTILE.clipboard, "--sink", sink.url]);
    expect(refused.code).toBe(2);
    expectSafe("error text", bad.stderr + refused.stderr);
    expect(refused.stderr).toContain("\\x1b]52;c;");
  });
});

describe("tun watch", () => {
  test("in a pipe, as text and as JSON", async () => {
    for (const json of [false, true]) {
      const args = ["watch", "--sink", sink.url, "--to", to, "--since", FROM_THE_START];
      const watch = startTun(json ? [...args, "--json"] : args);
      try {
        await watch.waitFor("both messages", (o) => ids.every((id) => o.includes(id)) && o.endsWith("\n"));
        expectSafe(json ? "watch --json" : "watch", watch.stdout() + watch.stderr());
        if (!json) expectVisible(watch.stdout());
      } finally {
        await watch.stop();
      }
    }
  });

  test.skipIf(!existsSync(SCRIPT))("on a terminal", async () => {
    const child = onTerminal(["watch", "--sink", sink.url, "--to", to, "--since", FROM_THE_START]);
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    const closed = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
    try {
      await waitUntil("both messages on the terminal", () => ids.every((id) => out.includes(id)));
      await waitUntil("the second body", () => out.includes("raw8bit \\x9b2J"));
      expect(out).toContain(CONNECTED);
      expectSafe("watch on a pty", out);
      expectVisible(out);
      child.stdin.write("\x03");
      expect(await closed).toBe(130);
    } finally {
      child.kill("SIGKILL");
      await closed;
    }
  });
});

test.skipIf(!existsSync(SCRIPT))("tun mail show and raw on a terminal", async () => {
  for (const sub of ["show", "raw"]) {
    const child = onTerminal(["mail", sub, ids[1]!, "--sink", sink.url]);
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    const code = await new Promise<number | null>((r) => child.once("close", r));
    expect({ sub, code }).toEqual({ sub, code: 0 });
    expectSafe(`mail ${sub} on a pty`, out);
    expectVisible(out, ["\\x1b]0;pwned\\x07", "raw8bit \\x9b2J"]);
  }
});

describe("the sink's log", () => {
  let spawned: SpawnedSink;
  beforeAll(async () => {
    spawned = await spawnTestSink();
  });
  afterAll(() => spawned?.stop());

  test("accepted lines escaped, one line each; a hostile filter is refused, not logged raw", async () => {
    const target = uniqueAddress("log");
    const [encoded, raw] = [
      await sendHostileEncoded(spawned.smtpPort, target),
      await sendHostileRaw(spawned.smtpPort, target),
    ];
    const client = new SinkClient(spawned.url);
    const hostileTo = `x${HOSTILE.clipboard}${HOSTILE.c1Csi}${HOSTILE.bidi}@evil.test`;
    // a filter with control characters is refused (400) before anything is deleted or logged as done
    await expect(client.delete({ to: hostileTo })).rejects.toMatchObject({ code: "bad_request" });
    await waitUntil("the accepted lines", () =>
      [encoded, raw].every((id) => spawned.output().includes(`[smtp] accepted ${id} `)),
    );
    const log = spawned.output();
    expectSafe("sink log", log);
    const accepted = (id: string) => log.split("\n").find((l) => l.startsWith(`[smtp] accepted ${id} `));
    expect(accepted(encoded)).toContain('subject="Reset \\x1b[2J\\x1b[H | \\x1b]0;pwned\\x07 |');
    expect(accepted(raw)).toContain('subject="raw \\x1b]0;pwned\\x07 \\x1b]8;;http://evil.example/\\x1b\\\\');
  });
});

/**
 * Runs tun with a real pseudo-terminal as stdout (util-linux `script`), colour
 * off and `stty -onlcr`, so the terminal passes newlines through as they are
 * and a CR in the output would be the mail's.
 */
function onTerminal(args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm-256color", NO_COLOR: "1", SHELL: "/bin/sh" };
  const quoted = [process.execPath, TUN_BIN, ...args].map((a) => `'${a}'`).join(" ");
  return spawn(SCRIPT, ["-qfec", `stty -onlcr; exec ${quoted}`, "/dev/null"], {
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
}
