// OpenAPI 3 description of the HTTP API v1, served at /api/v1/openapi.json.
import {
  SEARCH_MAX_CHARS,
  SEARCH_MAX_TERMS,
  WAIT_TIMEOUT_DEFAULT_S,
  WAIT_TIMEOUT_MAX_S,
} from "../../protocol/wire.js";
import { LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX } from "../storage/store.js";
import { READ_UPDATE_MAX_BYTES } from "./read-state.js";

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ "application/json": { schema } });
/** Every request may get 403 (a Host or Origin the sink does not serve) and 503 (past --max-http-connections). */
const errors = (...statuses: number[]) =>
  Object.fromEntries(
    [...statuses, 403, 503].map((s) => [String(s), { description: "Error", content: json(ref("Error")) }]),
  );
const q = (name: string, description: string, schema: object = { type: "string" }) => ({
  name,
  in: "query",
  required: false,
  description,
  schema,
});
const idParam = {
  name: "id",
  in: "path",
  required: true,
  schema: { type: "string" },
  description: "Message id (ULID)",
};

const SEARCH_SYNTAX =
  "Search syntax; terms are separated by spaces and ANDed, and the whole search is ANDed with the other parameters. " +
  '`word` and `"a phrase"`: full text over subject, addresses and text body (a word matches as a prefix, a phrase word for word). ' +
  "`to:` (any recipient: RCPT TO, To, Cc), `from:` (MAIL FROM or From), `cc:` (Cc only): an address, or @domain (and its subdomains). " +
  '`subject:`: a case-insensitive substring (quote it for spaces: subject:"reset your"). ' +
  "`has:attachment`; `is:read`, `is:unread`. " +
  "`before:` / `after:`: a date (2026-12-01, meaning 00:00 UTC) or an ISO time (UTC when it has no zone); before is strictly earlier, after is at or later. " +
  "`larger:` / `smaller:`: a size in bytes or with KB, MB, GB (1 KB = 1024 bytes), strictly. " +
  "`-` before any term negates it. " +
  `At most ${SEARCH_MAX_CHARS} characters and ${SEARCH_MAX_TERMS} terms. An empty search or a term that does not parse is a 400 whose message names the term; quote a word that contains a colon.`;

const FILTER_PARAMS = [
  q("to", "Recipient address, or @domain (matches the domain and its subdomains)"),
  q("from", "Sender address, or @domain"),
  q("subject", "Case-insensitive substring of the subject"),
  q("q", "Full-text search over subject, addresses and text body (every word, as a prefix)"),
  q("since", "Only messages after this message id, or received at or after this ISO time"),
  q("search", SEARCH_SYNTAX),
];

const readBody = {
  required: true,
  description: `{ "read": true } or { "read": false }; nothing else (at most ${READ_UPDATE_MAX_BYTES} bytes)`,
  content: json(ref("ReadUpdate")),
};

const address = { type: "object", properties: { address: { type: "string" }, name: { type: "string" } } };

export function openApiDocument(version: string): object {
  return {
    openapi: "3.0.3",
    info: {
      title: "tun sink API",
      version,
      description:
        "Captured messages of the tun SMTP sink. Stream: WebSocket GET /api/v1/stream?to=…&since=ID. Each endpoint takes only the query parameters listed, each once: unknown, repeated or empty ones are 400.",
    },
    paths: {
      "/api/v1/messages": {
        get: {
          summary: "List messages, newest first",
          parameters: [
            ...FILTER_PARAMS,
            q("limit", `Page size (default ${LIST_LIMIT_DEFAULT})`, {
              type: "integer",
              minimum: 1,
              maximum: LIST_LIMIT_MAX,
            }),
            q("cursor", "nextCursor of the previous page"),
          ],
          responses: { "200": { description: "A page", content: json(ref("MessageList")) }, ...errors(400) },
        },
        delete: {
          summary: "Delete the messages matching the filter (all without one)",
          parameters: FILTER_PARAMS,
          responses: {
            "200": {
              description: "Deleted",
              content: json({ type: "object", properties: { deleted: { type: "integer" } } }),
            },
            ...errors(400),
          },
        },
        patch: {
          summary:
            "Set the read state of the messages matching the filter (all without one: mark all read); subscribers get a read frame",
          parameters: FILTER_PARAMS,
          requestBody: readBody,
          responses: {
            "200": { description: "How many messages matched", content: json(ref("UpdateResult")) },
            ...errors(400, 413),
          },
        },
      },
      "/api/v1/messages/{id}": {
        get: {
          summary: "One message in full",
          parameters: [idParam],
          responses: { "200": { description: "The message", content: json(ref("Message")) }, ...errors(404) },
        },
        delete: {
          summary: "Delete one message",
          parameters: [idParam],
          responses: { "200": { description: "Deleted" }, ...errors(404) },
        },
        patch: {
          summary: "Set the read state of one message; subscribers get a read frame when it changed",
          parameters: [idParam],
          requestBody: readBody,
          responses: {
            "200": { description: "Updated ({ updated: 1 })", content: json(ref("UpdateResult")) },
            ...errors(400, 404, 413),
          },
        },
      },
      "/api/v1/messages/{id}/extract": {
        get: {
          summary:
            "One-time codes (4–8 digits or short upper-case alphanumerics near words like code, verification, OTP, PIN) and links (every http(s)/mailto <a href> of the HTML with its visible text, then bare URLs of the text part; never followed). mismatch is true when the visible text shows another host than the href.",
          parameters: [idParam],
          responses: {
            "200": { description: "Codes and links", content: json(ref("Extraction")) },
            ...errors(404),
          },
        },
      },
      "/api/v1/messages/{id}/raw": {
        get: {
          summary: "The exact bytes received",
          parameters: [idParam],
          responses: {
            "200": { description: "Raw message", content: { "message/rfc822": {} } },
            ...errors(404),
          },
        },
      },
      "/api/v1/messages/{id}/html": {
        get: {
          summary:
            "The HTML body, under a CSP sandbox without scripts (cid: links point at the attachment endpoint; images only from the sink unless remote=1)",
          parameters: [
            idParam,
            q("remote", "1: also load the message's remote images", { enum: ["0", "1"] }),
          ],
          responses: { "200": { description: "HTML", content: { "text/html": {} } }, ...errors(404) },
        },
      },
      "/api/v1/messages/{id}/text": {
        get: {
          summary: "The text body",
          parameters: [idParam],
          responses: { "200": { description: "Text", content: { "text/plain": {} } }, ...errors(404) },
        },
      },
      "/api/v1/messages/{id}/attachments/{attachmentId}": {
        get: {
          summary:
            "One attachment's content as a download (Content-Disposition: attachment, sandbox CSP); an invalid declared type is served as application/octet-stream",
          parameters: [
            idParam,
            { name: "attachmentId", in: "path", required: true, schema: { type: "string" } },
          ],
          responses: { "200": { description: "Attachment content" }, ...errors(404) },
        },
      },
      "/api/v1/wait": {
        get: {
          summary: "Wait until a matching message exists and return it (a stored match returns at once)",
          parameters: [
            ...FILTER_PARAMS.filter((p) => p.name !== "q"),
            q("timeout", `Seconds (default ${WAIT_TIMEOUT_DEFAULT_S}, max ${WAIT_TIMEOUT_MAX_S})`, {
              type: "number",
              minimum: 0,
              maximum: WAIT_TIMEOUT_MAX_S,
            }),
          ],
          responses: {
            "200": { description: "The message", content: json(ref("Message")) },
            ...errors(400, 408, 503),
          },
        },
      },
      "/api/v1/health": {
        get: { summary: "Health", responses: { "200": { description: "OK", content: json(ref("Health")) } } },
      },
      "/api/v1/stream": {
        get: {
          summary:
            "WebSocket upgrade. Frames are JSON {type,data}: hello {version,protocol,lastId} first, then message (a Message), deleted {ids} and read {ids, read} (read state changed by any client). With since=, stored messages after it are replayed first. A subscriber whose send buffer overflows is closed with 1013.",
          parameters: [q("to", "Address or @domain; repeatable"), q("since", "Message id to resume after")],
          responses: {
            "101": { description: "Switching protocols (closed with 1013 past --max-subscribers)" },
            ...errors(400, 426),
          },
        },
      },
    },
    components: {
      schemas: {
        Error: {
          type: "object",
          properties: {
            error: {
              type: "object",
              properties: {
                code: {
                  type: "string",
                  enum: [
                    "not_found",
                    "bad_request",
                    "forbidden",
                    "timeout",
                    "method_not_allowed",
                    "payload_too_large",
                    "unavailable",
                    "internal",
                  ],
                },
                message: { type: "string" },
              },
            },
          },
        },
        Summary: {
          type: "object",
          properties: {
            id: { type: "string" },
            receivedAt: { type: "string", format: "date-time" },
            envelope: {
              type: "object",
              properties: { from: { type: "string" }, to: { type: "array", items: { type: "string" } } },
            },
            from: { ...address, nullable: true },
            to: { type: "array", items: address },
            cc: { type: "array", items: address },
            subject: { type: "string" },
            size: { type: "integer" },
            attachmentCount: { type: "integer" },
            snippet: { type: "string" },
            remoteIp: { type: "string" },
            tls: { type: "boolean" },
            authUser: { type: "string", nullable: true },
            read: { type: "boolean", description: "Read state; new mail is unread" },
          },
        },
        ReadUpdate: {
          type: "object",
          required: ["read"],
          additionalProperties: false,
          properties: { read: { type: "boolean" } },
        },
        UpdateResult: { type: "object", properties: { updated: { type: "integer" } } },
        Extraction: {
          type: "object",
          properties: {
            codes: { type: "array", items: { type: "string" }, description: "Most likely first" },
            links: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  href: { type: "string" },
                  text: { type: "string" },
                  mismatch: { type: "boolean" },
                },
              },
            },
          },
        },
        Message: {
          allOf: [
            ref("Summary"),
            {
              type: "object",
              properties: {
                messageId: { type: "string", nullable: true },
                date: { type: "string", nullable: true },
                heloName: { type: "string" },
                headers: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: { key: { type: "string" }, value: { type: "string" } },
                  },
                },
                text: { type: "string", nullable: true },
                html: { type: "string", nullable: true },
                attachments: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: {
                      id: { type: "string" },
                      filename: { type: "string", nullable: true },
                      contentType: { type: "string" },
                      size: { type: "integer" },
                      contentId: { type: "string", nullable: true },
                      inline: { type: "boolean" },
                    },
                  },
                },
              },
            },
          ],
        },
        MessageList: {
          type: "object",
          properties: {
            messages: { type: "array", items: ref("Summary") },
            total: { type: "integer" },
            nextCursor: { type: "string", nullable: true },
          },
        },
        Health: {
          type: "object",
          properties: {
            status: { type: "string", enum: ["ok"] },
            version: { type: "string" },
            messages: { type: "integer" },
            dbBytes: { type: "integer" },
            uptimeSeconds: { type: "integer" },
          },
        },
      },
    },
  };
}
