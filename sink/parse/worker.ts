// Worker-thread entry: parses raw messages off the SMTP event loop. Requests
// and answers travel in batches (one postMessage per event-loop turn on each
// side), because the per-message cost of postMessage showed in profiles.
import { parentPort } from "node:worker_threads";
import { parseMessage, type ParsedFields } from "./parse.js";

export interface ParseRequest {
  seq: number;
  raw: Uint8Array;
}

export type ParseResponse =
  { seq: number; ok: true; fields: ParsedFields } | { seq: number; ok: false; error: string };

let outbox: ParseResponse[] = [];
const flush = (): void => {
  const batch = outbox;
  outbox = [];
  parentPort!.postMessage(batch);
};
const reply = (res: ParseResponse): void => {
  if (!outbox.length) setImmediate(flush);
  outbox.push(res);
};

parentPort?.on("message", (batch: ParseRequest[]) => {
  for (const req of batch) {
    const raw = Buffer.from(req.raw.buffer, req.raw.byteOffset, req.raw.byteLength);
    parseMessage(raw).then(
      (fields) => reply({ seq: req.seq, ok: true, fields }),
      (err: unknown) => reply({ seq: req.seq, ok: false, error: String(err) }),
    );
  }
});
