// A WebSocket subscriber for tests that records every frame and the close code.
import WebSocket from "ws";
import type { Message, StreamFrame } from "../../protocol/wire.js";

export class Subscriber {
  readonly frames: StreamFrame[] = [];
  closeCode: number | null = null;
  private listeners: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      this.frames.push(JSON.parse(data.toString()) as StreamFrame);
      this.wake();
    });
    ws.on("close", (code) => {
      this.closeCode = code;
      this.wake();
    });
    ws.on("error", () => {});
  }

  static open(baseUrl: string, query = "", options: WebSocket.ClientOptions = {}): Promise<Subscriber> {
    const ws = new WebSocket(baseUrl.replace(/^http/, "ws") + "/api/v1/stream" + query, options);
    return new Promise((resolve, reject) => {
      const sub = new Subscriber(ws);
      ws.once("open", () => resolve(sub));
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once("error", reject);
    });
  }

  private wake(): void {
    const ls = this.listeners;
    this.listeners = [];
    for (const l of ls) l();
  }

  messages(): Message[] {
    return this.frames.flatMap((f) => (f.type === "message" ? [f.data] : []));
  }

  ids(): string[] {
    return this.messages().map((m) => m.id);
  }

  /** Resolves once `cond` holds, re-checked on every frame; rejects after timeoutMs. */
  until(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`stream: ${what} not reached within ${timeoutMs} ms (${this.frames.length} frames)`),
          ),
        timeoutMs,
      );
      const check = (): void => {
        if (cond()) {
          clearTimeout(timer);
          resolve();
        } else if (this.closeCode !== null && !cond()) {
          clearTimeout(timer);
          reject(new Error(`stream closed (${this.closeCode}) before ${what}`));
        } else this.listeners.push(check);
      };
      check();
    });
  }

  untilClosed(timeoutMs = 10_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("stream not closed")), timeoutMs);
      const check = (): void => {
        if (this.closeCode !== null) {
          clearTimeout(timer);
          resolve(this.closeCode);
        } else this.listeners.push(check);
      };
      check();
    });
  }

  close(): void {
    this.ws.terminate();
  }
}
