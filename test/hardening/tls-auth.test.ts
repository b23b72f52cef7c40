// STARTTLS (self-signed and from files), --require-tls, smtps and
// --auth accept-any, with nodemailer and a bare socket against the real sink.
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import nodemailer from "nodemailer";
import { generate } from "selfsigned";
import { afterAll, describe, expect, test } from "vitest";
import { formatMessage } from "../../cli/watch/render.js";
import type { Message } from "../../protocol/wire.js";
import { SELF_SIGNED_CERT_FILE, SELF_SIGNED_KEY_FILE } from "../../sink/smtp/tls.js";
import { spawnTestSink } from "../helpers/sink.js";
import { SmtpWire } from "../helpers/smtp-wire.js";
import { startHardenedSink } from "./hardened-sink.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tun-hardening-"));
  dirs.push(d);
  return d;
}

async function message(url: string, id: string): Promise<Message> {
  const res = await fetch(`${url}/api/v1/messages/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Message;
}

function queuedId(response: string): string {
  const m = /queued as ([0-9A-Z]{26})/.exec(response);
  expect(m, response).not.toBeNull();
  return m![1]!;
}

/** The certificate a TLS server on `port` presents (implicit TLS). */
function presentedCert(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const raw = s.getPeerX509Certificate();
      s.destroy();
      if (raw) resolve(raw);
      else reject(new Error("no certificate"));
    });
    s.once("error", reject);
  });
}

async function starttlsCert(port: number): Promise<X509Certificate> {
  const w = await SmtpWire.open({ port });
  await w.reply();
  await w.command("EHLO c.test");
  expect((await w.command("STARTTLS")).code).toBe(220);
  await w.upgrade();
  const cert = (w.socket as TLSSocket).getPeerX509Certificate()!;
  w.close();
  return cert;
}

describe("STARTTLS", () => {
  test("self-signed certificate made at first start, kept beside the db, reused after a restart; nodemailer requireTLS trusts it", async () => {
    const dir = tempDir();
    const dbPath = join(dir, "sink.db");
    let sink = await startHardenedSink({ tls: "on" }, { dbPath });
    const certFile = join(dir, SELF_SIGNED_CERT_FILE);
    const certPem = readFileSync(certFile, "utf8");
    expect(statSync(join(dir, SELF_SIGNED_KEY_FILE)).mode & 0o077).toBe(0);
    try {
      const ehlo = await (async () => {
        const w = await SmtpWire.open({ port: sink.smtpPort });
        await w.reply();
        const r = await w.command("EHLO c.test");
        w.close();
        return r;
      })();
      expect(ehlo.lines.map((l) => l.slice(4))).toContain("STARTTLS");
      expect(ehlo.text).not.toMatch(/AUTH/);

      // trusted: the generated certificate as the only CA, verified against 127.0.0.1 (in its SAN)
      const trusted = nodemailer.createTransport({
        host: "127.0.0.1",
        port: sink.smtpPort,
        requireTLS: true,
        tls: { ca: certPem },
      });
      const info = await trusted.sendMail({
        from: "app@x.test",
        to: "qa@x.test",
        subject: "over STARTTLS",
        text: "secret",
      });
      const stored = await message(sink.url, queuedId(info.response));
      expect(stored.tls).toBe(true);
      expect(stored.subject).toBe("over STARTTLS");
      trusted.close();

      // plain (ignoreTLS): recorded as tls=false
      const plain = nodemailer.createTransport({ host: "127.0.0.1", port: sink.smtpPort, ignoreTLS: true });
      const info2 = await plain.sendMail({
        from: "app@x.test",
        to: "qa@x.test",
        subject: "plain",
        text: "x",
      });
      expect((await message(sink.url, queuedId(info2.response))).tls).toBe(false);
      plain.close();
    } finally {
      await sink.stop();
    }
    // restart on the same state directory: the same certificate, not a new one
    sink = await startHardenedSink({ tls: "on" }, { dbPath });
    try {
      expect(readFileSync(certFile, "utf8")).toBe(certPem);
      const presented = await starttlsCert(sink.smtpPort);
      expect(presented.fingerprint256).toBe(new X509Certificate(certPem).fingerprint256);
    } finally {
      await sink.stop();
    }
  });

  test("--tls-cert/--tls-key: that certificate is presented; nodemailer with an ignored (unverified) cert also works", async () => {
    const dir = tempDir();
    const pems = await generate([{ name: "commonName", value: "given.test" }], {
      keyType: "ec",
      curve: "P-256",
    });
    writeFileSync(join(dir, "c.pem"), pems.cert);
    writeFileSync(join(dir, "k.pem"), pems.private);
    const sink = await startHardenedSink(
      { "tls-cert": join(dir, "c.pem"), "tls-key": join(dir, "k.pem") },
      { dbPath: join(dir, "sink.db") },
    );
    try {
      const presented = await starttlsCert(sink.smtpPort);
      expect(presented.fingerprint256).toBe(new X509Certificate(pems.cert).fingerprint256);
      const t = nodemailer.createTransport({
        host: "127.0.0.1",
        port: sink.smtpPort,
        requireTLS: true,
        tls: { rejectUnauthorized: false },
      });
      const info = await t.sendMail({ from: "a@x.test", to: "b@x.test", subject: "given cert", text: "x" });
      expect((await message(sink.url, queuedId(info.response))).tls).toBe(true);
      t.close();
    } finally {
      await sink.stop();
    }
  });

  test("on loopback the default (--tls auto) offers no STARTTLS, so local apps never meet the self-signed cert", async () => {
    const sink = await startHardenedSink({});
    try {
      const w = await SmtpWire.open({ port: sink.smtpPort });
      await w.reply();
      expect((await w.command("EHLO c.test")).text).not.toMatch(/STARTTLS/);
      w.close();
    } finally {
      await sink.stop();
    }
  });
});

describe("--require-tls", () => {
  test("MAIL before STARTTLS gets 530; after STARTTLS the message is accepted with tls=true", async () => {
    const sink = await startHardenedSink({ "require-tls": true });
    try {
      const w = await SmtpWire.open({ port: sink.smtpPort });
      await w.reply();
      await w.command("EHLO c.test");
      const refused = await w.command("MAIL FROM:<a@x.test>");
      expect(refused.code).toBe(530);
      expect(refused.text).toMatch(/STARTTLS/);
      expect((await w.command("STARTTLS")).code).toBe(220);
      await w.upgrade();
      expect((await w.command("EHLO c.test")).code).toBe(250);
      expect((await w.command("MAIL FROM:<a@x.test>")).code).toBe(250);
      expect((await w.command("RCPT TO:<b@x.test>")).code).toBe(250);
      expect((await w.command("DATA")).code).toBe(354);
      const done = await w.data("Subject: required tls\r\n\r\nbody\r\n");
      expect(done.code).toBe(250);
      expect((await message(sink.url, queuedId(done.text))).tls).toBe(true);
      w.close();

      // nodemailer that ignores TLS is refused, not silently accepted
      const plain = nodemailer.createTransport({ host: "127.0.0.1", port: sink.smtpPort, ignoreTLS: true });
      await expect(
        plain.sendMail({ from: "a@x.test", to: "b@x.test", subject: "s", text: "x" }),
      ).rejects.toMatchObject({ responseCode: 530 });
      plain.close();
    } finally {
      await sink.stop();
    }
  });
});

describe("--smtps (spawned tun sink)", () => {
  test("prints `[sink] smtps listening on HOST:PORT`; nodemailer secure:true delivers with tls=true", async () => {
    const sink = await spawnTestSink(["--smtps", "127.0.0.1:0"]);
    try {
      const m = /^\[sink\] smtps listening on 127\.0\.0\.1:(\d+)$/m.exec(sink.output());
      expect(m, sink.output()).not.toBeNull();
      const port = Number(m![1]);
      const t = nodemailer.createTransport({
        host: "127.0.0.1",
        port,
        secure: true,
        tls: { rejectUnauthorized: false },
      });
      const info = await t.sendMail({ from: "a@x.test", to: "b@x.test", subject: "implicit", text: "x" });
      const stored = await message(sink.url, queuedId(info.response));
      expect(stored.tls).toBe(true);
      t.close();
      // the same certificate as STARTTLS on the plain port
      expect((await presentedCert(port)).fingerprint256).toBe(
        (await starttlsCert(sink.smtpPort)).fingerprint256,
      );
    } finally {
      await sink.stop();
    }
  });
});

describe("--auth accept-any", () => {
  test("AUTH PLAIN and LOGIN with any credentials; the user is stored and served by the API", async () => {
    const sink = await startHardenedSink({ auth: "accept-any" });
    try {
      const t = nodemailer.createTransport({
        host: "127.0.0.1",
        port: sink.smtpPort,
        auth: { user: "alice@app.test", pass: "anything at all" },
      });
      const info = await t.sendMail({ from: "a@x.test", to: "b@x.test", subject: "with auth", text: "x" });
      t.close();
      const withAuth = await message(sink.url, queuedId(info.response));
      expect(withAuth.authUser).toBe("alice@app.test");
      // the `tun watch` console shows it
      expect(formatMessage(withAuth, { color: false }).split("\n")).toContain("[SMTP] Auth: alice@app.test");
      const list = (await (await fetch(`${sink.url}/api/v1/messages`)).json()) as { messages: Message[] };
      expect(list.messages[0]!.authUser).toBe("alice@app.test");

      const w = await SmtpWire.open({ port: sink.smtpPort });
      await w.reply();
      const ehlo = await w.command("EHLO c.test");
      expect(ehlo.lines.map((l) => l.slice(4))).toContain("AUTH PLAIN LOGIN");
      expect((await w.command("AUTH LOGIN")).code).toBe(334);
      expect((await w.command(Buffer.from("bob").toString("base64"))).code).toBe(334);
      expect((await w.command(Buffer.from("wrong?").toString("base64"))).code).toBe(235);
      await w.command("MAIL FROM:<a@x.test>");
      await w.command("RCPT TO:<b@x.test>");
      await w.command("DATA");
      const done = await w.data("Subject: login\r\n\r\nx\r\n");
      expect((await message(sink.url, queuedId(done.text))).authUser).toBe("bob");

      // without AUTH a message is still accepted (authUser null)
      const anon = nodemailer.createTransport({ host: "127.0.0.1", port: sink.smtpPort });
      const info3 = await anon.sendMail({ from: "a@x.test", to: "b@x.test", subject: "anon", text: "x" });
      anon.close();
      const anonMsg = await message(sink.url, queuedId(info3.response));
      expect(anonMsg.authUser).toBeNull();
      expect(formatMessage(anonMsg, { color: false })).not.toMatch(/Auth:/);
      w.close();
    } finally {
      await sink.stop();
    }
  });

  test("by default AUTH is neither advertised nor accepted", async () => {
    const sink = await startHardenedSink({});
    try {
      const w = await SmtpWire.open({ port: sink.smtpPort });
      await w.reply();
      expect((await w.command("EHLO c.test")).text).not.toMatch(/AUTH/);
      expect((await w.command("AUTH PLAIN AGFsaWNlAHB3")).code).toBeGreaterThanOrEqual(500);
      w.close();
    } finally {
      await sink.stop();
    }
  });
});
