// The HTTP API v1 handlers. Each takes the request's URL and returns, or
// throws an HttpError that the server turns into the JSON error shape.
import type { IncomingMessage, ServerResponse } from "node:http";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { Health, MessageList } from "../../protocol/wire.js";
import { extractFrom } from "../extract/extract.js";
import type { Logger } from "../log.js";
import { extractAttachment } from "../parse/parse.js";
import type { MessageStore, StoreFilter } from "../storage/store.js";
import { openApiDocument } from "./openapi.js";
import {
  cursorFromQuery,
  describeFilter,
  filterFromQuery,
  isEmptyFilter,
  limitFromQuery,
  waitTimeoutMs,
} from "./query.js";
import { markMatching, readFromBody } from "./read-state.js";
import { HttpError, notFound, sendBody, sendJson } from "./respond.js";
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
}

type Handler = (
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  params: string[],
) => void | Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

const ID = "([0-9A-Za-z]{26})";

function requireMessage(ctx: ApiContext, id: string) {
  const m = ctx.store.get(id);
  if (!m) throw notFound(`no message with id ${id}`);
  return m;
}

/** Deletes everything matching (up to the newest message at the start), a batch per turn. */
async function deleteMatching(ctx: ApiContext, filter: StoreFilter): Promise<number> {
  const until = ctx.store.lastId;
  if (!until) return 0;
  let total = 0;
  for (;;) {
    const rows = ctx.store.matchingIds({ ...filter, until }, DELETE_BATCH_ROWS);
    if (!rows.length) return total;
    const ids = ctx.store.deleteRows(rows);
    total += ids.length;
    if (ids.length) ctx.onDeleted(ids);
    if (rows.length < DELETE_BATCH_ROWS) return total;
    await nextTurn();
  }
}

function contentDisposition(kind: "inline" | "attachment", filename: string | null): string {
  if (!filename) return kind;
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

export const ROUTES: Route[] = [
  {
    method: "GET",
    pattern: /^\/api\/v1\/messages$/,
    handler: (ctx, _req, res, url) => {
      const filter = filterFromQuery(url.searchParams);
      const page: MessageList = ctx.store.list(
        filter,
        limitFromQuery(url.searchParams),
        cursorFromQuery(url.searchParams),
      );
      sendJson(res, 200, page);
    },
  },
  {
    method: "DELETE",
    pattern: /^\/api\/v1\/messages$/,
    handler: async (ctx, _req, res, url) => {
      const filter = filterFromQuery(url.searchParams);
      const deleted = await deleteMatching(ctx, filter);
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
    handler: async (ctx, req, res, url) => {
      const filter = filterFromQuery(url.searchParams);
      const read = await readFromBody(req);
      const updated = await markMatching(ctx.store, filter, read, ctx.onRead);
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
    handler: (ctx, _req, res, _url, [id]) => sendJson(res, 200, extractFrom(requireMessage(ctx, id!))),
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/v1/messages/${ID}$`),
    handler: (ctx, _req, res, _url, [id]) => sendJson(res, 200, requireMessage(ctx, id!)),
  },
  {
    method: "DELETE",
    pattern: new RegExp(`^/api/v1/messages/${ID}$`),
    handler: (ctx, _req, res, _url, [id]) => {
      if (!ctx.store.deleteById(id!)) throw notFound(`no message with id ${id}`);
      ctx.onDeleted([id!.toUpperCase()]);
      sendJson(res, 200, { deleted: 1 });
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/v1/messages/${ID}/raw$`),
    handler: (ctx, _req, res, _url, [id]) => {
      const raw = ctx.store.raw(id!);
      if (!raw) throw notFound(`no message with id ${id}`);
      sendBody(res, "message/rfc822", raw, { "content-disposition": `inline; filename="${id}.eml"` });
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/v1/messages/${ID}/html$`),
    handler: (ctx, _req, res, _url, [id]) => {
      const m = requireMessage(ctx, id!);
      if (m.html === null) throw notFound(`message ${id} has no HTML part`);
      // cid: references point at the attachment endpoint so inline images show in a browser
      const byCid = new Map(m.attachments.filter((a) => a.contentId).map((a) => [a.contentId!, a.id]));
      const html = m.html.replace(/\bcid:([^'"\s)>]{1,256})/g, (whole, cid: string) => {
        const attId = byCid.get(cid);
        return attId ? `/api/v1/messages/${m.id}/attachments/${attId}` : whole;
      });
      sendBody(res, "text/html; charset=utf-8", html);
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/v1/messages/${ID}/text$`),
    handler: (ctx, _req, res, _url, [id]) => {
      const m = requireMessage(ctx, id!);
      if (m.text === null) throw notFound(`message ${id} has no text part`);
      sendBody(res, "text/plain; charset=utf-8", m.text);
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/v1/messages/${ID}/attachments/([^/]+)$`),
    handler: async (ctx, _req, res, _url, [id, attId]) => {
      const raw = ctx.store.raw(id!);
      if (!raw) throw notFound(`no message with id ${id}`);
      const att = await extractAttachment(raw, decodeURIComponent(attId!));
      if (!att) throw notFound(`message ${id} has no attachment ${attId}`);
      sendBody(res, att.contentType, att.content, {
        "content-disposition": contentDisposition("attachment", att.filename),
      });
    },
  },
  {
    method: "GET",
    pattern: /^\/api\/v1\/wait$/,
    handler: (ctx, _req, res, url) => {
      const filter = filterFromQuery(url.searchParams);
      if (filter.q)
        throw new HttpError(400, "bad_request", "wait does not take q=; use to=, from=, subject= or since=");
      const timeoutMs = waitTimeoutMs(url.searchParams);
      const found = ctx.store.newest(filter);
      if (found) return sendJson(res, 200, found);
      ctx.waiters.add(filter, res, timeoutMs);
    },
  },
  {
    method: "GET",
    pattern: /^\/api\/v1\/health$/,
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
    handler: (ctx, _req, res) => sendJson(res, 200, openApiDocument(ctx.version)),
  },
];
