// Worker-thread entry: parses raw messages off the SMTP event loop.
import { parentPort } from "node:worker_threads";
import { parseMessage } from "./parse.js";

export interface ParseRequest {
  seq: number;
  raw: Uint8Array;
}

export type ParseResponse =
  | { seq: number; ok: true; fields: Awaited<ReturnType<typeof parseMessage>> }
  | { seq: number; ok: false; error: string };

parentPort?.on("message", (req: ParseRequest) => {
  const raw = Buffer.from(req.raw.buffer, req.raw.byteOffset, req.raw.byteLength);
  parseMessage(raw).then(
    (fields) => parentPort!.postMessage({ seq: req.seq, ok: true, fields } satisfies ParseResponse),
    (err: unknown) =>
      parentPort!.postMessage({ seq: req.seq, ok: false, error: String(err) } satisfies ParseResponse),
  );
});
