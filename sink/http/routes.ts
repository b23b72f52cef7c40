// The HTTP API v1 handlers. Each takes the request's URL and returns, or
// throws an HttpError that the server turns into the JSON error shape.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Health, MessageList } from "../../protocol/wire.js";
import { safeFilename } from "../../protocol/safe-filename.js";
import { extractFrom } from "../extract/extract.js";
import type { Logger } from "../log.js";
import type { SharedExtractions } from "../parse/attachments.js";
import { forEachMatching } from "../storage/matching.js";
import { ReadAbandoned } from "../storage/reader.js";
import type { MessageStore, StoreFilter } from "../storage/store.js";
import { openApiDocument } from "./openapi.js";
import { rewriteMailHtml } from "./html-rewrite.js";
import {
  cursorFromQuery,
  describeFilter,
  filterFromQuery,
  isEmptyFilter,
  limitFromQuery,
  remoteImagesFromQuery,
  waitTimeoutMs,
} from "./query.js";
import { markMatching, readFromBody } from "./read-state.js";
import { HttpError, badRequest, notFound, sendBody, sendJson } from "./respond.js";
import { htmlCsp } from "./security-headers.js";
import type { WaitRegistry } from "./wait.js";

/** Rows deleted per transaction by DELETE /messages, so a big delete never stalls ingestion. */
export const DELETE_BATCH_ROWS = 500;

export interface ApiContext {
  store: MessageStore;
  waiters: WaitRegistry;
  log: Logger;
  version: string;
  startedAtMs: number;
  dbBytes: () => number;
  /** Tells stream subscribers about deleted ids. */
  onDeleted: (ids: string[]) => void;
  /** Tells stream subscribers about messages whose read state changed. */
  onRead: (ids: string[], read: boolean) => void;
  /** Attachments of stored messages (extracted in a parse worker when the message is large). */
  attachments: SharedExtractions;
}

/** A heavy read; one abandoned past the reader's deadline is 503. */
async function heavyRead<T>(read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (err) {
    if (err instanceof ReadAbandoned) throw new HttpError(503, "unavailable", err.message);
    throw err;
  }
}

type Handler = (
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  params: string[],
) => void | Promise<void>;

export interface Route {
  method: string;
  pattern: RegExp;
  /** Key of PARAMS_BY_ENDPOINT in query.ts: the query parameters this route takes. */
  params: string;
  handler: Handler;
}

/** A path segment in the message-id position; the server answers 404 "no message with id" unless it is a ULID. */
export const ID = "([^/]+)";

function requireMessage(ctx: ApiContext, id: string) {
  const m = ctx.store.get(id);
  if (!m) throw notFound(`no message with id ${id}`);
  return m;
}

/** Deletes everything matching (up to the newest message at the start): matching.ts. */
async function deleteMatching(ctx: ApiContext, filter: StoreFilter): Promise<number> {
  let total = 0;
  await forEachMatching(ctx.store, filter, { batchRows: DELETE_BATCH_ROWS }, (seqs) => {
    const ids = ctx.store.deleteRows(seqs.map((seq) => ({ seq })));
    total += ids.length;
    if (ids.length) ctx.onDeleted(ids);
  });
  return total;
}

/**
 * The sender's file name made safe (protocol/safe-filename.ts: no path, no
 * control or bidi characters that would disguise the type), as `tun mail save`
 * would write it; an ASCII fallback for clients without filename*.
 */
function contentDisposition(kind: "inline" | "attachment", filename: string | null): string {
  const name = safeFilename(filename, "");
  if (!name) return kind;
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** type/subtype with optional parameters, printable ASCII only: anything else is served as a download of bytes. */
const SAFE_CONTENT_TYPE_RE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*(\s*;[\x20-\x7e]*)?$/i;

export function safeContentType(declared: string): string {
  return SAFE_CONTENT_TYPE_RE.test(declared) ? declared : "application/octet-stream";
}

export const ROUTES: Route[] = [
  {
    method: "GET",
    pattern: /^\/api\/v1\/messages$/,
    params: "GET /messages",
    handler: async (ctx, _req, res, url) => {
      const filter = filterFromQuery(url.searchParams);
      const page: MessageList = await heavyRead(
        ctx.store.read({
          kind: "list",
          filter,
          limit: limitFromQuery(url.searchParams),
          cursor: cursorFromQuery(url.searchParams),
          knownTotal: ctx.store.messageCount,
        }),
      );
      sendJson(res, 200, page);
    },
  },
  {
    method: "DELETE",
    pattern: /^\/api\/v1\/messages$/,
    params: "DELETE /messages",
    handler: async (ctx, _req, res, url) => {
      const filter = filterFromQuery(url.searchParams);
      // "everything" only for a bare DELETE: a parameter that filters nothing is an error, not a wildcard
      if (isEmptyFilter(filter) && url.search !== "")
        throw badRequest(`${url.search} selects no messages; a bare DELETE /api/v1/messages deletes all`);
      const deleted = await heavyRead(deleteMatching(ctx, filter));
      ctx.log.info(
        "http",
        `deleted ${deleted} message(s) matching ${isEmptyFilter(filter) ? "everything" : describeFilter(filter)}`,
      );
      sendJson(res, 200, { deleted });
    },
  },
  {
    method: "PATCH",
    pattern: /^\/api\/v1\/messages$/,
    params: "PATCH /messages",
    handler: async (ctx, req, res, url) => {
      const filter = filterFromQuery(url.searchParams);
      const read = await readFromBody(req);
      const updated = await heavyRead(markMatching(ctx.store, filter, read, ctx.onRead));
      ctx.log.info(
        "http",
        `marked ${updated} message(s) ${read ? "read" : "unread"} matching ${isEmptyFilter(filter) ? "everything" : describeFilter(filter)}`,
      );
      sendJson(res, 200, { updated });
    },
  },
  {
    method: "PATCH",
    pattern: new RegExp(`^/api/v1/messages/${ID}$`),
    params: "",
    handler: async (ctx, req, res, _url, [id]) => {
      const read = await readFromBody(req);
      const row = ctx.store.rowOf(id!);
      if (!row) throw notFound(`no message with id ${id}`);
      const changed = ctx.store.setRead([row], read);
      if (changed.length) ctx.onRead(changed, read);
      sendJson(res, 200, { updated: 1 });
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/v1/messages/${ID}/extract$`),
    params: "",
    handler: (ctx, _req, res, _url, [id]) => sendJson(res, 200, extractFrom(requireMessage(ctx, id!))),
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/v1/messages/${ID}$`),
    params: "",
    handler: (ctx, _req, res, _url, [id]) => sendJson(res, 200, requireMessage(ctx, id!)),
  },
  {
    method: "DELETE",
    pattern: new RegExp(`^/api/v1/messages/${ID}$`),
    params: "",
    handler: (ctx, _req, res, _url, [id]) => {
      if (!ctx.store.deleteById(id!)) throw notFound(`no message with id ${id}`);
      ctx.onDeleted([id!.toUpperCase()]);
      sendJson(res, 200, { deleted: 1 });
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/v1/messages/${ID}/raw$`),
    params: "",
    handler: (ctx, _req, res, _url, [id]) => {
      const raw = ctx.store.raw(id!);
      if (!raw) throw notFound(`no message with id ${id}`);
      sendBody(res, "message/rfc822", raw, { "content-disposition": `inline; filename="${id}.eml"` });
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/v1/messages/${ID}/html$`),
    params: "GET /messages/:id/html",
    handler: (ctx, _req, res, url, [id]) => {
      const remote = remoteImagesFromQuery(url.searchParams);
      const m = requireMessage(ctx, id!);
      if (m.html === null) throw notFound(`message ${id} has no HTML part`);
      // cid: references point at the attachment endpoint so inline images show in a browser
      const byCid = new Map(m.attachments.filter((a) => a.contentId).map((a) => [a.contentId!, a.id]));
      const html = rewriteMailHtml(m.html, (cid) => {
        const attId = byCid.get(cid);
        return attId ? `/api/v1/messages/${m.id}/attachments/${encodeURIComponent(attId)}` : null;
      });
      sendBody(res, "text/html; charset=utf-8", html, { "content-security-policy": htmlCsp(remote) });
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/v1/messages/${ID}/text$`),
    params: "",
    handler: (ctx, _req, res, _url, [id]) => {
      const m = requireMessage(ctx, id!);
      if (m.text === null) throw notFound(`message ${id} has no text part`);
      sendBody(res, "text/plain; charset=utf-8", m.text);
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/v1/messages/${ID}/attachments/([^/]+)$`),
    params: "",
    handler: async (ctx, _req, res, _url, [id, attId]) => {
      const extraction = ctx.attachments.get(id!, attId!, () => ctx.store.raw(id!));
      if (!extraction) throw notFound(`no message with id ${id}`);
      const att = await extraction;
      if (!att) throw notFound(`message ${id} has no attachment ${attId}`);
      sendBody(res, safeContentType(att.contentType), att.content, {
        "content-disposition": contentDisposition("attachment", att.filename),
      });
    },
  },
  {
    method: "GET",
    pattern: /^\/api\/v1\/wait$/,
    params: "GET /wait",
    handler: async (ctx, _req, res, url) => {
      const filter = filterFromQuery(url.searchParams);
      const timeoutMs = waitTimeoutMs(url.searchParams);
      // registered first, so a commit during the stored-match check is not missed
      const held = ctx.waiters.add(filter, res, timeoutMs);
      let found: string | null;
      try {
        found = await heavyRead(ctx.store.read({ kind: "newestId", filter }));
      } catch (err) {
        held.cancel();
        throw err;
      }
      held.settle(found ? ctx.store.get(found) : null);
    },
  },
  {
    method: "GET",
    pattern: /^\/api\/v1\/health$/,
    params: "",
    handler: (ctx, _req, res) => {
      const body: Health = {
        status: "ok",
        version: ctx.version,
        messages: ctx.store.messageCount,
        dbBytes: ctx.dbBytes(),
        uptimeSeconds: Math.floor((Date.now() - ctx.startedAtMs) / 1000),
      };
      sendJson(res, 200, body);
    },
  },
  {
    method: "GET",
    pattern: /^\/api\/v1\/openapi\.json$/,
    params: "",
    handler: (ctx, _req, res) => sendJson(res, 200, openApiDocument(ctx.version)),
  },
  {
    // the stream is WebSocket only; a plain GET gets told so instead of a 404
    method: "GET",
    pattern: /^\/api\/v1\/stream$/,
    params: "GET /stream",
    handler: () => {
      throw new HttpError(
        426,
        "bad_request",
        "/api/v1/stream is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket)",
        { upgrade: "websocket" },
      );
    },
  },
];
