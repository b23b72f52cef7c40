// A bare SMTP client for tests that need to see (or send) exactly what goes
// over the wire: malformed commands, raw bytes, replies and their timing, a
// chosen source address (127.0.0.2 is another client IP on Linux loopback),
// STARTTLS on the same socket and implicit TLS.
import { connect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";

export interface Reply {
  code: number;
  lines: string[];
  text: string;
}

export interface OpenOptions {
  port: number;
  /**
   * How replies are decoded and string bodies encoded. latin1 (the default)
   * maps bytes 1:1, for tests that send raw or invalid bytes; utf8 for tests
   * that speak SMTPUTF8 as ordinary clients do.
   */
  encoding?: "latin1" | "utf8";
  /** Source address of the connection (default 127.0.0.1). */
  from?: string;
  /** Implicit TLS (smtps). */
  tls?: boolean;
}

export class SmtpWire {
  private buffer = "";
  private readonly replies: Reply[] = [];
  private waiting: ((r: Reply) => void) | null = null;
  private pending: string[] = [];
  closed = false;
  private closeWaiters: (() => void)[] = [];

  private constructor(
    public socket: Socket | TLSSocket,
    private readonly encoding: BufferEncoding,
  ) {
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    // replies are awaited one by one; without NODELAY a small write waits for the
    // previous one's (delayed) ACK, 40 ms on Linux
    socket.setNoDelay(true);
    socket.setEncoding(this.encoding);
    socket.on("data", (d: string) => this.onData(d));
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.closeWaiters.splice(0)) w();
    });
    socket.on("error", () => {});
  }

  static open(opts: OpenOptions): Promise<SmtpWire> {
    const encoding = opts.encoding ?? "latin1";
    return new Promise((resolve, reject) => {
      const base = { host: "127.0.0.1", port: opts.port, localAddress: opts.from };
      const socket = opts.tls
        ? tlsConnect({ ...base, rejectUnauthorized: false }, () => resolve(new SmtpWire(socket, encoding)))
        : connect(base, () => resolve(new SmtpWire(socket, encoding)));
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
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, this.encoding);
    // latin1 is a 1:1 view of the bytes, so stuffing never alters other bytes
    const stuffed = bytes.toString("latin1").replace(/(^|\r\n)\./g, "$1..");
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
  const w = await SmtpWire.open(opts);
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

/** Sends one message over a fresh connection (UTF-8), going on to DATA whatever MAIL and RCPT answer; returns the final reply. */
export async function sendRaw(
  port: number,
  from: string,
  to: string[],
  body: string | Buffer,
): Promise<Reply> {
  const s = await SmtpWire.open({ port, encoding: "utf8" });
  try {
    await s.reply();
    await s.command("EHLO test.local");
    await s.command(`MAIL FROM:<${from}>`);
    for (const r of to) await s.command(`RCPT TO:<${r}>`);
    const go = await s.command("DATA");
    if (go.code !== 354) return go;
    return await s.data(body);
  } finally {
    s.write("QUIT\r\n");
    s.close();
  }
}
