// One HTTP request with node:http (node:https for https:// sinks), body read
// whole. The client used global fetch before; in a one-shot CLI command
// loading undici and waiting at exit for V8 to finish compiling its
// WebAssembly parser cost more than the rest of `tun mail ls` (bench/README.md,
// "Bottlenecks found" item 7). The sink's answers are small JSON documents or
// one message's bytes, so nothing here needs streaming.
import type { IncomingMessage, RequestOptions } from "node:http";

export interface HttpResponse {
  status: number;
  ok: boolean;
  /** The whole body; rejects like the request when the connection drops half-way. */
  body(): Promise<Buffer>;
}

/**
 * Sends a request, with a JSON body when `json` is given (PATCH). Rejects with the socket's error (its `code`
 * says why: ECONNREFUSED, ENOTFOUND, …) or, when `signal` aborts, with an
 * AbortError; the caller tells a timeout from a cancellation by its signals.
 */
export async function httpRequest(
  url: string,
  method: string,
  signal: AbortSignal,
  json?: unknown,
): Promise<HttpResponse> {
  const target = new URL(url);
  // node:https is loaded only for https:// sinks: TLS setup costs a local `tun mail ls` start-up time.
  const { request } = target.protocol === "https:" ? await import("node:https") : await import("node:http");
  const body = json === undefined ? undefined : JSON.stringify(json);
  const options: RequestOptions = { method, signal };
  if (body !== undefined) {
    options.headers = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
  }
  return new Promise((resolve, reject) => {
    const req = request(target, options, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const body = new Promise<Buffer>((resolveBody, rejectBody) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolveBody(Buffer.concat(chunks)));
        res.on("error", rejectBody);
        // closed before the end without an error event: the peer went away mid-body
        res.on("close", () => {
          if (!res.complete)
            rejectBody(Object.assign(new Error("socket closed mid-body"), { code: "ECONNRESET" }));
        });
      });
      body.catch(() => {}); // a caller that only looks at the status must not see an unhandled rejection
      resolve({ status, ok: status >= 200 && status < 300, body: () => body });
    });
    req.on("error", reject);
    req.end(body);
  });
}
