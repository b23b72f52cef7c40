// PATCH /api/v1/messages/:id and PATCH /api/v1/messages?…filter…: the read
// state. The body is `{ "read": true|false }` and nothing else.
import type { IncomingMessage } from "node:http";
import { forEachMatching } from "../storage/matching.js";
import type { MessageStore, StoreFilter } from "../storage/store.js";
import { badRequest, HttpError } from "./respond.js";

/** Largest PATCH body read; `{"read": false}` is 15 bytes. */
export const READ_UPDATE_MAX_BYTES = 1024;
/** Rows updated per statement by PATCH /messages, so marking 50,000 read never stalls ingestion. */
export const READ_BATCH_ROWS = 500;

const EXPECTED = 'send {"read": true} or {"read": false}';

function bodyText(req: IncomingMessage): Promise<string> {
  const tooLarge = (): HttpError =>
    new HttpError(
      413,
      "payload_too_large",
      `the body holds at most ${READ_UPDATE_MAX_BYTES} bytes: ${EXPECTED}`,
    );
  if (Number(req.headers["content-length"] ?? 0) > READ_UPDATE_MAX_BYTES) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > READ_UPDATE_MAX_BYTES) {
        req.off("data", onData);
        req.resume(); // the rest is read and dropped, so the answer can still be sent
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** The `read` value of a PATCH body; a 400 naming the field for anything else. */
export async function readFromBody(req: IncomingMessage): Promise<boolean> {
  const text = await bodyText(req);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest(`the body is not JSON: ${EXPECTED}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest(`the body must be a JSON object: ${EXPECTED}`);
  }
  const extra = Object.keys(body).find((k) => k !== "read");
  if (extra !== undefined) throw badRequest(`unknown field "${extra}" in the body: ${EXPECTED}`);
  const read = (body as { read?: unknown }).read;
  if (typeof read !== "boolean") {
    throw badRequest(`field "read" must be true or false, got ${JSON.stringify(read) ?? "nothing"}`);
  }
  return read;
}

/**
 * Sets the read state of every message matching the filter (up to the newest one at the
 * start), a batch per turn; returns how many matched. `onRead` hears the ids that changed.
 * All matches are found first, within one read budget (matching.ts): one that runs out
 * rejects with ReadAbandoned having changed nothing.
 */
export async function markMatching(
  store: MessageStore,
  filter: StoreFilter,
  read: boolean,
  onRead: (ids: string[], read: boolean) => void,
): Promise<number> {
  let total = 0;
  await forEachMatching(store, filter, { batchRows: READ_BATCH_ROWS }, (seqs) => {
    const rows = store.rowsOf(seqs);
    const changed = store.setRead(rows, read);
    if (changed.length) onRead(changed, read);
    total += rows.length;
  });
  return total;
}
