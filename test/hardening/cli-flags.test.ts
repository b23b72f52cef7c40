// The hardening flags as `tun sink` takes them: one line naming the flag for a
// bad value, one line for an unusable certificate, env variables honoured.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import { resolveSinkConfig } from "../../sink/config.js";
import { waitUntil } from "../helpers/poll.js";
import { spawnTestSink, TUN_BIN } from "../helpers/sink.js";
import { sendOne, SmtpWire } from "../helpers/smtp-wire.js";

const execFileP = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "tun-hardening-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function runSink(args: string[]): Promise<{ code: number; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("TUN_SINK_")) delete env[k];
  try {
    await execFileP(
      process.execPath,
      [TUN_BIN, "sink", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--db", join(dir, "s.db"), ...args],
      { env, timeout: 15_000 },
    );
    return { code: 0, stderr: "" };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

describe("tun sink hardening flags", () => {
  test.each([
    [["--deny", "10.0.0.0/40"], /^tun: --deny \(or TUN_SINK_DENY\): expected CIDRs/],
    [["--allow", "example.com"], /^tun: --allow .*expected CIDRs/],
    [["--max-connections-per-ip", "many"], /^tun: --max-connections-per-ip .*whole number/],
    [["--session-timeout", "0"], /^tun: --session-timeout .*duration/],
    [["--smtps", "465"], /^tun: --smtps .*HOST:PORT/],
    [["--tls", "maybe"], /^tun: --tls .*auto, on or off/],
    [["--auth", "ldap"], /^tun: --auth .*none or accept-any/],
  ])("tun sink %j -> one line naming the flag, exit code 2", async (args, pattern) => {
    const r = await runSink(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("an unusable certificate is one line naming the files, not a stack trace", async () => {
    writeFileSync(join(dir, "bad.pem"), "not a certificate\n");
    const r = await runSink(["--tls-cert", join(dir, "bad.pem"), "--tls-key", join(dir, "bad.pem")]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /^tun: sink not started: the TLS certificate .*bad\.pem and key .*bad\.pem cannot be used/,
    );
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    const missing = await runSink(["--tls-cert", join(dir, "nope.pem"), "--tls-key", join(dir, "nope.pem")]);
    expect(missing.stderr).toMatch(/could not read the TLS certificate .*nope\.pem/);
  });

  test("TUN_SINK_* variables: TLS on a public listener by default, require-tls, auth, smtps", () => {
    const pub = resolveSinkConfig({ smtp: "0.0.0.0:25" }, {}).hardening;
    expect(pub.tls.enabled).toBe(true);
    expect(pub.auth).toBe("none");
    const h = resolveSinkConfig(
      {},
      {
        TUN_SINK_REQUIRE_TLS: "1",
        TUN_SINK_AUTH: "accept-any",
        TUN_SINK_SMTPS: "0.0.0.0:465",
        TUN_SINK_LIMIT_EXEMPT: "none",
      },
    ).hardening;
    expect(h.tls).toMatchObject({ enabled: true, require: true, smtps: { host: "0.0.0.0", port: 465 } });
    expect(h.auth).toBe("accept-any");
    expect(h.limits.exempt).toEqual([]);
    expect(resolveSinkConfig({}, { TUN_SINK_TLS: "off" }).hardening.tls.enabled).toBe(false);
  });
});

test("refusals leave one clear [smtp] log line each (deny, per-IP rate)", async () => {
  const sink = await spawnTestSink([
    "--deny",
    "127.0.0.2",
    "--max-messages-per-ip",
    "1",
    "--limit-exempt",
    "none",
  ]);
  try {
    const w = await SmtpWire.open({ port: sink.smtpPort, from: "127.0.0.2" });
    expect((await w.reply()).code).toBe(554);
    w.close();
    await waitUntil("the deny log line", () =>
      /^\[smtp\] refused connection ip=127\.0\.0\.2: denied \(--deny\) \(554\)$/m.test(sink.output()),
    );
    const body = "Subject: rate\r\n\r\nx\r\n";
    expect((await sendOne({ port: sink.smtpPort, body })).code).toBe(250);
    expect((await sendOne({ port: sink.smtpPort, body })).code).toBe(451);
    await waitUntil("the rate log line", () =>
      /^\[smtp\] rejected from=<sender@x\.test> ip=127\.0\.0\.1: --max-messages-per-ip 1\/min reached$/m.test(
        sink.output(),
      ),
    );
  } finally {
    await sink.stop();
  }
});
