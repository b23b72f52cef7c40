// A bare SMTP client for tests that need to see (or send) exactly what goes
// over the wire: malformed commands, replies, timing of the greeting.
import { connect, type Socket } from "node:net";

export interface Reply {
  code: number;
  lines: string[];
  text: string;
}

export class SmtpDialog {
  private buffer = "";
  private readonly replies: Reply[] = [];
  private readonly waiting: ((r: Reply) => void)[] = [];
  private pending: string[] = [];
  closed = false;
  private closeWaiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    // replies are awaited one by one; without NODELAY a small write waits for the
    // previous one's (delayed) ACK, 40 ms on Linux
    socket.setNoDelay(true);
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => this.onData(d));
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.closeWaiters) w();
    });
    socket.on("error", () => {});
  }

  static open(port: number): Promise<SmtpDialog> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new SmtpDialog(socket)));
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
      if (/^\d{3} /.test(line) || /^\d{3}$/.test(line)) {
        const reply: Reply = {
          code: Number(line.slice(0, 3)),
          lines: this.pending,
          text: this.pending.join("\n"),
        };
        this.pending = [];
        const w = this.waiting.shift();
        if (w) w(reply);
        else this.replies.push(reply);
      }
    }
  }

  /** The next reply, waiting up to timeoutMs. */
  reply(timeoutMs = 5000): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SMTP reply within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async command(line: string): Promise<Reply> {
    this.socket.write(line + "\r\n");
    return this.reply();
  }

  /** Sends a whole message body after DATA's 354 (dot-stuffing done here) and returns the final reply. */
  async data(body: string | Buffer): Promise<Reply> {
    const text = Buffer.isBuffer(body) ? body : Buffer.from(body);
    const stuffed = Buffer.from(text.toString("latin1").replace(/(^|\r\n)\./g, "$1.."), "latin1");
    const end = stuffed.subarray(-2).toString() === "\r\n" ? ".\r\n" : "\r\n.\r\n";
    this.socket.write(Buffer.concat([stuffed, Buffer.from(end)]));
    return this.reply();
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("connection not closed")), timeoutMs);
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

/** Sends one message over a fresh connection; returns the final DATA reply. */
export async function sendRaw(
  port: number,
  from: string,
  to: string[],
  body: string | Buffer,
): Promise<Reply> {
  const s = await SmtpDialog.open(port);
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

/** A multipart nested 1,000 deep: mailparser refuses it ("Max allowed child nodes exceeded"). */
export function deeplyNested(depth = 1000): string {
  let s =
    "Subject: nested too deep\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n";
  for (let i = 0; i < depth; i++) s += `--b${i}\r\nContent-Type: multipart/mixed; boundary=b${i + 1}\r\n\r\n`;
  s += `--b${depth}\r\nContent-Type: text/plain\r\n\r\ndeep\r\n`;
  for (let i = depth; i >= 0; i--) s += `--b${i}--\r\n`;
  return s;
}
