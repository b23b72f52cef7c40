// A small SMTP client for probe messages: one connection, one command at a
// time, and a timestamp taken the moment the 250 to the end of DATA arrives,
// so latency is measured from what a test's mailer sees.
import { connect } from "node:net";
import { performance } from "node:perf_hooks";

const REPLY_TIMEOUT_MS = 30_000;

export async function openProbe(port, heloName = "probe.bench.test") {
  const sock = connect({ host: "127.0.0.1", port });
  sock.setNoDelay(true);
  let buf = "";
  let lines = [];
  let pending = null;
  let failure = null;

  function settle() {
    if (!pending) return;
    if (failure) {
      const p = pending;
      pending = null;
      clearTimeout(p.timer);
      p.reject(failure);
      return;
    }
    // A reply ends at a line whose 4th character is a space ("250 ok", not "250-SIZE").
    const end = lines.findIndex((l) => l.length < 4 || l[3] === " ");
    if (end < 0) return;
    const reply = lines.slice(0, end + 1);
    lines = lines.slice(end + 1);
    const p = pending;
    pending = null;
    clearTimeout(p.timer);
    p.resolve({ code: Number(reply[end].slice(0, 3)), text: reply.join("\n"), at: performance.now() });
  }

  sock.on("data", (d) => {
    buf += d.toString("latin1");
    let i;
    while ((i = buf.indexOf("\r\n")) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 2);
    }
    settle();
  });
  sock.on("error", (e) => {
    failure = new Error(`probe connection to 127.0.0.1:${port}: ${e.message}`);
    settle();
  });
  sock.on("close", () => {
    failure ??= new Error(`probe connection to 127.0.0.1:${port} closed`);
    settle();
  });

  function reply() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending = null;
        reject(new Error(`no SMTP reply from 127.0.0.1:${port} within ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      pending = { resolve, reject, timer };
      settle();
    });
  }

  /** Sends line (null: nothing, just read the next reply) and checks the reply class; label names it in errors. */
  async function command(line, expect, label = line) {
    if (line !== null) sock.write(line + "\r\n");
    const r = await reply();
    if (Math.floor(r.code / 100) !== expect) throw new Error(`SMTP ${label} -> ${r.text}`);
    return r;
  }

  await command(null, 2, "greeting");
  await command(`EHLO ${heloName}`, 2);

  return {
    /**
     * Sends one message; returns when the final 250 arrived, with the time the
     * end of data was written (sentAt), the time of the 250 (ackAt) and the id
     * the sink named in it ("queued as <id>"), if any. With { acceptRejection: true } a 4xx/5xx
     * answer to the data is returned (code, text) instead of thrown.
     */
    async send({ from, to, subject, body }, opts = {}) {
      await command(`MAIL FROM:<${from}>`, 2);
      await command(`RCPT TO:<${to}>`, 2);
      await command("DATA", 3);
      const text =
        `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n` +
        `Date: ${new Date().toUTCString()}\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@probe>\r\n\r\n` +
        body.replace(/^\./gm, "..") +
        "\r\n.\r\n";
      const sentAt = performance.now();
      sock.write(text);
      // A 4xx/5xx here is the sink's answer, not a broken session: returned, so callers can count it.
      const r = await reply();
      if (r.code !== 250 && !(opts.acceptRejection && r.code >= 400)) {
        throw new Error(`SMTP end of DATA -> ${r.text}`);
      }
      const id = /queued as <?([0-9A-Za-z]+)>?/.exec(r.text)?.[1] ?? null;
      return { sentAt, ackAt: r.at, id, code: r.code, text: r.text };
    },
    close() {
      sock.end("QUIT\r\n");
    },
  };
}
