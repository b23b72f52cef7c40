// Every client command finds the sink the same way: --sink, else
// $TUN_SINK_URL, else http://127.0.0.1:8025; so does `new SinkClient()`.
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import { SinkClient } from "../../client/index.js";
import { isolatedPath, type IsolatedPath } from "../helpers/isolated-path.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { sendMail, uniqueAddress } from "../client/send-mail.js";
import { runTun, startTun } from "./tun-process.js";

let sink: TestSink;
let deadUrl: string;
let noOpener: IsolatedPath;
const dir = mkdtempSync(join(tmpdir(), "tun-sink-url-"));
beforeAll(async () => {
  sink = await startTestSink();
  noOpener = isolatedPath();
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  deadUrl = `http://127.0.0.1:${(s.address() as net.AddressInfo).port}`;
  await new Promise<void>((r) => s.close(() => r()));
});
afterAll(async () => {
  await sink?.stop();
  noOpener?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const saved = process.env.TUN_SINK_URL;
afterEach(() => {
  if (saved === undefined) delete process.env.TUN_SINK_URL;
  else process.env.TUN_SINK_URL = saved;
});

test("TUN_SINK_URL is honoured by watch and every mail subcommand", async () => {
  const env = { TUN_SINK_URL: sink.url, ...noOpener.env };
  const to = uniqueAddress("env");
  const id = await sendMail(sink.smtpPort, {
    to,
    subject: "via env",
    html: "<p>hi</p>",
    attachments: [{ filename: "a.txt", content: "a" }],
  });
  const gone = await sendMail(sink.smtpPort, { to, subject: "to delete", text: "x" });
  const runs: [string, string[], (stdout: string) => boolean][] = [
    ["ls", ["ls", "--to", to], (o) => o.includes(id)],
    ["show", ["show", id], (o) => o.includes("Subject:") && o.includes("via env")],
    ["raw", ["raw", id], (o) => o.includes("Subject: via env")],
    ["save", ["save", id, "-o", dir], (o) => o.trim() === join(dir, "a.txt")],
    ["open", ["open", id], (o) => o.trim().endsWith(`${id}.html`)],
    ["wait", ["wait", "--to", to, "--since", id, "--json"], (o) => o.includes(gone)],
    ["rm", ["rm", gone], (o) => o === "deleted 1 message\n"],
    ["clear", ["clear", "--to", to], (o) => o === `deleted 1 message to ${to}\n`],
  ];
  for (const [name, args, ok] of runs) {
    const r = await runTun(["mail", ...args], env);
    expect({ name, code: r.code, ok: ok(r.stdout) }).toEqual({ name, code: 0, ok: true });
    if (name === "open") rmSync(join(r.stdout.trim(), ".."), { recursive: true, force: true });
  }

  const watch = startTun(["watch", "--to", to], env);
  try {
    await watch.waitFor("the connected line", (_o, e) => e.includes(`watching ${sink.url} for`));
    const live = await sendMail(sink.smtpPort, { to, subject: "live", text: "x" });
    await watch.waitFor("the message", (o) => o.includes(live));
  } finally {
    await watch.stop();
  }
});

test("--sink wins over TUN_SINK_URL; a bad TUN_SINK_URL is a usage error naming it", async () => {
  const r = await runTun(["mail", "ls", "--limit", "1", "--sink", sink.url], { TUN_SINK_URL: deadUrl });
  expect(r.code).toBe(0);
  const unset = await runTun(["mail", "ls"], { TUN_SINK_URL: deadUrl });
  expect(unset).toMatchObject({
    code: 3,
    stderr: `tun: cannot reach the sink at ${deadUrl}: connection refused\n`,
  });
  const bad = await runTun(["mail", "ls"], { TUN_SINK_URL: "localhost:8025" });
  expect(bad).toMatchObject({
    code: 2,
    stderr: 'tun: TUN_SINK_URL: expected an http:// URL like http://127.0.0.1:8025, got "localhost:8025"\n',
  });
});

test("new SinkClient() with no URL uses TUN_SINK_URL, else http://127.0.0.1:8025", async () => {
  process.env.TUN_SINK_URL = sink.url;
  const client = new SinkClient();
  expect(client.url).toBe(sink.url);
  expect((await client.health()).status).toBe("ok");
  delete process.env.TUN_SINK_URL;
  expect(new SinkClient().url).toBe("http://127.0.0.1:8025");
  expect(new SinkClient(deadUrl).url).toBe(deadUrl);
});
