// HTTP requests with full control of Host and Origin (fetch may not set Host),
// and the greeting probe that shows SMTP still answers while HTTP is at a cap.
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect } from "node:net";

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON (null when it is not JSON). */
  json: { error?: { code: string; message: string } } & Record<string, unknown>;
}

export function rawRequest(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; agent?: false } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers: opts.headers, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => {
          let json = null;
          try {
            json = JSON.parse(text);
          } catch {
            // not JSON: left null
          }
          resolve({ status: res.statusCode!, headers: res.headers, text, json });
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Bytes written as-is (raw non-ASCII in the request line); the whole reply as text. */
export function rawBytes(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.end(bytes));
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (text += d));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

/** Milliseconds until an SMTP server's 220 greeting arrives. */
export function smtpGreetingMs(port: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      if (d.startsWith("220")) {
        socket.end("QUIT\r\n");
        resolve(performance.now() - started);
      } else {
        socket.destroy();
        reject(new Error(`SMTP answered ${JSON.stringify(d)} instead of a greeting`));
      }
    });
    socket.on("error", reject);
  });
}
