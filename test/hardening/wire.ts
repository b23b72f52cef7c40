// A bare SMTP client for the hardening tests: like test/sink/smtp-dialog.ts,
// plus a chosen source address (127.0.0.2 is another client IP on Linux
// loopback), STARTTLS on the same socket, implicit TLS, and raw bytes.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { resolveSinkConfig, type SinkConfig, type SinkFlagValues } from "../../sink/config.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";

export interface Reply {
  code: number;
  lines: string[];
  text: string;
}

export interface OpenOptions {
  port: number;
  /** Source address of the connection (default 127.0.0.1). */
  from?: string;
  /** Implicit TLS (smtps). */
  tls?: boolean;
}

export class Wire {
  private buffer = "";
  private readonly replies: Reply[] = [];
  private waiting: ((r: Reply) => void) | null = null;
  private pending: string[] = [];
  closed = false;
  private closeWaiters: (() => void)[] = [];

  private constructor(public socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.setNoDelay(true);
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => this.onData(d));
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.closeWaiters.splice(0)) w();
    });
    socket.on("error", () => {});
  }

  static open(opts: OpenOptions): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const base = { host: "127.0.0.1", port: opts.port, localAddress: opts.from };
      const socket = opts.tls
        ? tlsConnect({ ...base, rejectUnauthorized: false }, () => resolve(new Wire(socket)))
        : connect(base, () => resolve(new Wire(socket)));
      socket.once("error", reject);
    });
  }

  private onData(d: string): void {
    this.buffer += d;
    let nl: number;
    while ((nl = this.buffer.indexOf("\r\n")) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 2);
      this.pending.push(line);
      if (/^\d{3}( |$)/.test(line)) {
        const reply = { code: Number(line.slice(0, 3)), lines: this.pending, text: this.pending.join("\n") };
        this.pending = [];
        const w = this.waiting;
        this.waiting = null;
        if (w) w(reply);
        else this.replies.push(reply);
      }
    }
  }

  reply(timeoutMs = 5_000): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`no SMTP reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const onClose = (): void => {
        clearTimeout(timer);
        this.waiting = null;
        reject(new Error("connection closed without a reply"));
      };
      if (this.closed) return onClose();
      this.closeWaiters.push(onClose);
      this.waiting = (r) => {
        clearTimeout(timer);
        this.closeWaiters = this.closeWaiters.filter((w) => w !== onClose);
        resolve(r);
      };
    });
  }

  /** The next reply, or null when the server closes the connection without one. */
  async replyOrClose(timeoutMs = 5_000): Promise<Reply | null> {
    try {
      return await this.reply(timeoutMs);
    } catch (err) {
      if (this.closed) return null;
      throw err;
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  command(line: string, timeoutMs?: number): Promise<Reply> {
    this.socket.write(line + "\r\n");
    return this.reply(timeoutMs);
  }

  /** Sends a message body after 354 (dot-stuffed here) and returns the final reply. */
  data(body: string | Buffer, timeoutMs?: number): Promise<Reply> {
    const text = Buffer.isBuffer(body) ? body.toString("latin1") : body;
    const stuffed = text.replace(/(^|\r\n)\./g, "$1..");
    const end = stuffed.endsWith("\r\n") ? ".\r\n" : "\r\n.\r\n";
    this.socket.write(Buffer.from(stuffed + end, "latin1"));
    return this.reply(timeoutMs);
  }

  /** STARTTLS on this connection (the 220 already read by the caller). */
  async upgrade(): Promise<void> {
    const plain = this.socket as Socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket: plain, rejectUnauthorized: false }, () => resolve(s));
      s.once("error", reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  waitClosed(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`connection not closed within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One whole transaction on a fresh connection; the final reply (or the first refusal). */
export async function sendOne(
  opts: OpenOptions & { mailFrom?: string; to?: string[]; body: string | Buffer },
): Promise<Reply> {
  const w = await Wire.open(opts);
  try {
    const hello = await w.reply();
    if (hello.code !== 220) return hello;
    await w.command("EHLO client.test");
    const mail = await w.command(`MAIL FROM:<${opts.mailFrom ?? "sender@x.test"}>`);
    if (mail.code !== 250) return mail;
    for (const r of opts.to ?? ["qa@x.test"]) {
      const rr = await w.command(`RCPT TO:<${r}>`);
      if (rr.code !== 250) return rr;
    }
    const go = await w.command("DATA");
    if (go.code !== 354) return go;
    return await w.data(opts.body);
  } finally {
    w.write("QUIT\r\n");
    w.close();
  }
}

export function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** An in-process sink with hardening flags as `tun sink` would parse them. */
export async function startHardenedSink(
  flags: SinkFlagValues,
  overrides: Partial<SinkConfig> = {},
): Promise<TestSink> {
  const { hardening } = resolveSinkConfig({ smtp: "127.0.0.1:0", ...flags }, {});
  return startTestSink({ hardening, ...overrides });
}

/** VmRSS / VmHWM of a process in KiB, from /proc. */
export function procMemoryKiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}
