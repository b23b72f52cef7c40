// `tun watch --deliver` and `tun mail deliver` as a developer runs them: the
// real binary, a spawned `tun sink`, and a real local app.
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTun } from "../cli/tun-process.js";
import { sendMail } from "../client/send-mail.js";
import { waitUntil } from "../helpers/poll.js";
import { spawnTestSink, type SpawnedSink } from "../helpers/sink.js";
import { deliveredIds, startWebhookApp, type WebhookApp } from "./webhook-app.js";

let stateHome: string;
/** Fast retries and a private state directory for every tun this file starts. */
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  stateHome = mkdtempSync(join(tmpdir(), "tun-deliver-cli-"));
  env = {
    XDG_STATE_HOME: stateHome,
    TUN_DELIVER_RETRY_MIN_MS: "50",
    TUN_DELIVER_RETRY_MAX_MS: "300",
  };
});
afterAll(() => rmSync(stateHome, { recursive: true, force: true }));

function deliverLines(stderr: string, id: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith(`[deliver] ${id} `));
}

test("tun watch --deliver: order and at-least-once across an app outage and a sink restart; no redelivery after a restart of tun watch", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tun-deliver-sink-"));
  const dbPath = join(dir, "sink.db");
  let sink: SpawnedSink | null = await spawnTestSink([], { dbPath });
  let second: SpawnedSink | null = null;
  const app = await startWebhookApp();
  const url = app.url();
  const args = ["watch", "--sink", sink.url, "--to", "@watch.test", "--deliver", url, "--format", "postmark"];
  let watch = startTun(args, env);
  try {
    await watch.waitFor("delivery to start", (_o, e) =>
      e.includes(`[deliver] delivering to ${url} as postmark`),
    );
    const sent = [await sendMail(sink.smtpPort, { to: "reply+1@watch.test", subject: "one", text: "1" })];
    await waitUntil("the first delivery", () => app.requests.length === 1);
    await watch.waitFor("its console line", (_o, e) =>
      new RegExp(`^\\[deliver\\] ${sent[0]} → POST ${url} 200 in \\d+ ms$`, "m").test(e),
    );

    // The app goes down: the console keeps printing mail while delivery retries.
    await app.close();
    sent.push(await sendMail(sink.smtpPort, { to: "reply+2@watch.test", subject: "two", text: "2" }));
    await watch.waitFor("the message printed", (o) => o.includes(sent[1]!));
    await watch.waitFor("a refused attempt with its retry time", (_o, e) =>
      deliverLines(e, sent[1]!).some((l) => /connection refused; retry \d+ at \d\d:\d\d:\d\d$/.test(l)),
    );

    // The sink restarts too (same ports and database) while the app is still down.
    const { smtpPort, httpPort } = sink;
    sink.kill("SIGKILL");
    await sink.stop();
    sink = null;
    second = await spawnTestSink(["--smtp", `127.0.0.1:${smtpPort}`, "--http", `127.0.0.1:${httpPort}`], {
      dbPath,
    });
    sent.push(await sendMail(smtpPort, { to: "reply+3@watch.test", subject: "three", text: "3" }));
    await app.reopen();
    sent.push(await sendMail(smtpPort, { to: "reply+4@watch.test", subject: "four", text: "4" }));
    await waitUntil("all four delivered", () => new Set(deliveredIds(app)).size === 4, 30_000);
    expect([...new Set(deliveredIds(app))]).toEqual(sent);
    // Each MailboxHash came through in the Postmark shape.
    expect(
      app.requests.map((r) => (JSON.parse(r.body.toString()) as { MailboxHash: string }).MailboxHash),
    ).toEqual(["1", "2", "3", "4"]);

    await watch.stop();
    // Arrives while tun watch is not running: delivered after the restart, and nothing before it again.
    sent.push(await sendMail(smtpPort, { to: "reply+5@watch.test", subject: "five", text: "5" }));
    const before = app.requests.length;
    watch = startTun(
      args.map((a) => (a === second!.url ? a : a)),
      env,
    );
    await waitUntil("the fifth delivery", () => app.requests.length > before, 15_000);
    await watch.waitFor("its console line", (_o, e) =>
      deliverLines(e, sent[4]!).some((l) => / 200 in /.test(l)),
    );
    expect(deliveredIds(app).slice(before)).toEqual([sent[4]]);
    expect(watch.stderr()).toContain(`resuming after ${sent[3]}`);
  } finally {
    await watch.stop();
    await app.close();
    await sink?.stop();
    await second?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--json puts the same delivery events on stderr as JSON lines; stdout stays the message stream", async () => {
  const sink = await spawnTestSink();
  const app = await startWebhookApp();
  app.answer(500);
  const key = "key-from-the-environment";
  const watch = startTun(
    ["watch", "--sink", sink.url, "--json", "--deliver", app.url(), "--format", "mailgun"],
    {
      ...env,
      TUN_DELIVER_SIGNING_KEY: key,
    },
  );
  try {
    await watch.waitFor("delivery to start", (_o, e) => e.includes('"event":"started"'));
    const id = await sendMail(sink.smtpPort, { to: "x@json.test", subject: "json", text: "j" });
    await watch.waitFor("the delivered event", (_o, e) => e.includes('"outcome":"delivered"'));
    const events = watch
      .stderr()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.event === "attempt");
    expect(events.map((e) => [e.id, e.status, e.outcome])).toEqual([
      [id, 500, "retry"],
      [id, 200, "delivered"],
    ]);
    expect(events[0]).toMatchObject({ method: "POST", url: app.url(), target: app.url(), error: null });
    // No attachments: Mailgun's urlencoded form, signed with the key from TUN_DELIVER_SIGNING_KEY.
    const form = new URLSearchParams(app.requests[1]!.body.toString("utf8"));
    expect(app.requests[1]!.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(form.get("signature")).toBe(
      createHmac("sha256", key)
        .update(form.get("timestamp")! + form.get("token")!)
        .digest("hex"),
    );
    expect(form.get("token")).not.toBe(
      new URLSearchParams(app.requests[0]!.body.toString("utf8")).get("token"),
    );
    const printed = watch
      .stdout()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: string });
    expect(printed.map((m) => m.id)).toEqual([id]);
  } finally {
    await watch.stop();
    await app.close();
    await sink.stop();
  }
});

test("tun mail deliver replays stored messages and shows the app's answer, made safe to print", async () => {
  const sink = await spawnTestSink();
  const app: WebhookApp = await startWebhookApp();
  app.replyBody = "accepted\nticket 4821 updated \u001b]0;pwned\u0007\nline 3";
  try {
    const a = await sendMail(sink.smtpPort, { to: "reply+9@replay.test", subject: "first", text: "1" });
    const b = await sendMail(sink.smtpPort, { to: "reply+9@replay.test", subject: "second", text: "2" });
    const url = app.url("/hooks/sendgrid");
    const run = startTun(
      ["mail", "deliver", a, b, "--sink", sink.url, "--to", url, "--format", "sendgrid"],
      env,
    );
    const { code } = await run.exited;
    expect(run.stderr()).toBe("");
    expect(code).toBe(0);
    expect(deliveredIds(app)).toEqual([a, b]);
    expect(app.requests[0]!.headers["content-type"]).toMatch(/^multipart\/form-data/);
    const lines = run.stdout().split("\n");
    expect(lines[0]).toMatch(new RegExp(`^${a} → POST ${url} 200 in \\d+ ms$`));
    expect(lines.slice(1, 4)).toEqual(["  accepted", "  ticket 4821 updated \\x1b]0;pwned\\x07", "  line 3"]);
    expect(run.stdout()).not.toContain("\u001b");

    // A failing answer is shown and makes the exit code 1.
    app.answer(500);
    const failing = startTun(["mail", "deliver", a, "--sink", sink.url, "--to", url], env);
    expect((await failing.exited).code).toBe(1);
    expect(failing.stdout()).toMatch(new RegExp(`^${a} → POST ${url} 500 in \\d+ ms$`, "m"));
    expect(failing.stderr()).toContain("1 of 1 not accepted");

    const missing = startTun(
      ["mail", "deliver", "01JDZZZZZZZZZZZZZZZZZZZZZZ", "--sink", sink.url, "--to", url],
      env,
    );
    expect((await missing.exited).code).toBe(1);
    expect(missing.stderr()).toMatch(/^tun: no message with id 01JDZZZZZZZZZZZZZZZZZZZZZZ in the sink/);
  } finally {
    await app.close();
    await sink.stop();
  }
});

test("a target that is not this machine is refused without --deliver-remote (exit 2, one line)", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["watch", "--deliver", "http://203.0.113.7/hook"],
      /^tun: --deliver: 203\.0\.113\.7 is not this machine; tun delivers only to localhost unless you add --deliver-remote\n$/,
    ],
    [
      ["mail", "deliver", "01JD0000000000000000000000", "--to", "https://example.com/hook"],
      /^tun: --to: example\.com is not this machine/,
    ],
    [
      ["watch", "--deliver", "/webhooks/inbound"],
      /^tun: --deliver \/webhooks\/inbound: a path needs the app's port here; give a full URL like http:\/\/localhost:3000\/webhooks\/inbound\n$/,
    ],
    [
      ["watch", "--deliver", "http://localhost:1/x", "--format", "sparkpost"],
      /^tun: --format: expected one of raw, sendgrid, sendgrid-raw, mailgun, postmark, ses, got "sparkpost"\n$/,
    ],
    [["watch", "--format", "mailgun"], /^tun: --format applies to --deliver/],
  ];
  for (const [args, expected] of cases) {
    const run = startTun(args, env);
    const { code } = await run.exited;
    expect(run.stderr()).toMatch(expected);
    expect(code).toBe(2);
  }
});
