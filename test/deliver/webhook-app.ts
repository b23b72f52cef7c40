// A real local app (node:http) standing in for the developer's webhook
// handler: records every request with its exact body bytes and answers with
// the statuses a test scripts. It can be closed and reopened on the same port
// to play an app restarting under a file watcher.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The status this request was answered with. */
  status: number;
}

export interface WebhookApp {
  port: number;
  url(path?: string): string;
  requests: ReceivedRequest[];
  /** Statuses for the next requests, in order; 200 once they run out. */
  answer(...statuses: number[]): void;
  /** Forgets the statuses not used yet. */
  resetAnswers(): void;
  /** Answers every delivery of this message (by X-Tun-Message-Id) with `status`, whatever answer() scripted. */
  answerMessage(id: string, status: number): void;
  /** Body text sent with every answer. */
  replyBody: string;
  close(): Promise<void>;
  /** Listens again on the same port after close(). */
  reopen(): Promise<void>;
}

export async function startWebhookApp(port = 0): Promise<WebhookApp> {
  const scripted: number[] = [];
  const byMessage = new Map<string, number>();
  let server: Server | null = null;
  const app: WebhookApp = {
    port,
    url: (path = "/webhooks/inbound") => `http://127.0.0.1:${app.port}${path}`,
    requests: [],
    answer: (...statuses) => void scripted.push(...statuses),
    resetAnswers: () => void scripted.splice(0),
    answerMessage: (id, status) => void byMessage.set(id, status),
    replyBody: "ok",
    close: () =>
      new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.closeAllConnections();
        server.close(() => resolve());
        server = null;
      }),
    reopen: async () => {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          const status = byMessage.get(String(req.headers["x-tun-message-id"])) ?? scripted.shift() ?? 200;
          app.requests.push({
            method: req.method ?? "",
            url: req.url ?? "",
            headers: req.headers,
            body: Buffer.concat(chunks),
            status,
          });
          res.writeHead(status, { "content-type": "text/plain" });
          res.end(app.replyBody);
        });
      });
      await new Promise<void>((resolve, reject) => {
        server!.once("error", reject);
        server!.listen(app.port, "127.0.0.1", () => resolve());
      });
      app.port = (server.address() as AddressInfo).port;
    },
  };
  await app.reopen();
  return app;
}

/** The requests tun delivered (a tunnel's own probes of the app carry no X-Tun-Message-Id). */
export function deliveries(app: WebhookApp): ReceivedRequest[] {
  return app.requests.filter((r) => r.headers["x-tun-message-id"] !== undefined);
}

/** The X-Tun-Message-Id of each delivery, in order. */
export function deliveredIds(app: WebhookApp): string[] {
  return deliveries(app).map((r) => String(r.headers["x-tun-message-id"]));
}
