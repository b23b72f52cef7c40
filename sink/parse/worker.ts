// Worker-thread entry: parses raw messages off the SMTP event loop. Requests
// and answers travel in batches (one postMessage per event-loop turn on each
// side), because the per-message cost of postMessage showed in profiles.
import { parentPort } from "node:worker_threads";
import { extractAttachment, parseMessage, type ParsedFields } from "./parse.js";

/** Parse a message, or (with attachmentId) extract one of its attachments. */
export interface ParseRequest {
  seq: number;
  raw: Uint8Array;
  attachmentId?: string;
}

export interface WorkerAttachment {
  content: Uint8Array;
  contentType: string;
  filename: string | null;
}

export type ParseResponse =
  | { seq: number; ok: true; fields: ParsedFields }
  | { seq: number; ok: true; attachment: WorkerAttachment | null }
  | { seq: number; ok: false; error: string };

let outbox: ParseResponse[] = [];
/** Attachment contents handed over without a copy. */
let transfer: ArrayBuffer[] = [];
const flush = (): void => {
  const batch = outbox;
  const moved = transfer;
  outbox = [];
  transfer = [];
  parentPort!.postMessage(batch, moved);
};
const reply = (res: ParseResponse): void => {
  if (!outbox.length) setImmediate(flush);
  outbox.push(res);
};

parentPort?.on("message", (batch: ParseRequest[]) => {
  for (const req of batch) {
    const raw = Buffer.from(req.raw.buffer, req.raw.byteOffset, req.raw.byteLength);
    if (req.attachmentId !== undefined) {
      extractAttachment(raw, req.attachmentId).then(
        (attachment) => {
          // a copy of its own, so that exactly its bytes move to the main thread
          const content = attachment ? new Uint8Array(attachment.content) : null;
          if (content) transfer.push(content.buffer);
          reply({
            seq: req.seq,
            ok: true,
            attachment: attachment && content ? { ...attachment, content } : null,
          });
        },
        (err: unknown) => reply({ seq: req.seq, ok: false, error: String(err) }),
      );
      continue;
    }
    parseMessage(raw).then(
      (fields) => reply({ seq: req.seq, ok: true, fields }),
      (err: unknown) => reply({ seq: req.seq, ok: false, error: String(err) }),
    );
  }
});
