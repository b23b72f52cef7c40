// Format "mailgun": Mailgun Routes forward() to a URL,
// https://documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/receive-http
// and its signature, https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
// Fully parsed by default: application/x-www-form-urlencoded, or
// multipart/form-data when there are attachments (attachment-1..N file parts,
// `content-id-map` for inline ones). A URL whose path ends in "mime" gets the
// raw MIME variant with the message in `body-mime`. Every POST carries
// `timestamp`, a 50-character `token` and, with a signing key, `signature` =
// hex HMAC-SHA256(key, timestamp + token), fresh for each attempt as Mailgun
// signs each request. Mailgun retries every answer but 200 and 406.
import { createHmac, randomBytes } from "node:crypto";
import type { MailParts } from "./mail-parts.js";
import { replyText, strippedHtml } from "./reply-text.js";
import {
  filePart,
  formBody,
  retryAllBut,
  type FormatContext,
  type Payload,
  type PayloadFormat,
} from "./payload.js";

/** Mailgun's "Not Acceptable": the app refuses the message; no retries. */
export const MAILGUN_STOP_STATUS = 406;
/** Mailgun's token is "a randomly generated string with length of 50". */
const TOKEN_CHARS = 50;

export function mailgunSignature(signingKey: string, timestamp: string, token: string): string {
  return createHmac("sha256", signingKey)
    .update(timestamp + token)
    .digest("hex");
}

function signatureFields(ctx: FormatContext): [string, string][] {
  const timestamp = String(Math.floor(ctx.now.getTime() / 1000));
  const token = randomBytes(TOKEN_CHARS / 2).toString("hex");
  const fields: [string, string][] = [
    ["timestamp", timestamp],
    ["token", token],
  ];
  if (ctx.signingKey !== undefined) {
    fields.push(["signature", mailgunSignature(ctx.signingKey, timestamp, token)]);
  }
  return fields;
}

async function encode(mail: MailParts, ctx: FormatContext): Promise<Payload> {
  const envelope: [string, string][] = [
    ["recipient", mail.recipients.join(", ")],
    ["sender", mail.envelopeFrom],
    ["from", mail.fromText],
    ["subject", mail.subject],
  ];
  if (ctx.url.pathname.endsWith("mime")) {
    const form = new FormData();
    for (const [k, v] of [...envelope, ["body-mime", mail.raw.toString("utf8")], ...signatureFields(ctx)]) {
      form.append(k!, v!);
    }
    return { ...(await formBody(form)), headers: {} };
  }

  const text = mail.text ?? "";
  const reply = replyText(text);
  const fields: [string, string][] = [
    ...envelope,
    ["body-plain", text],
    ["stripped-text", reply.reply],
    ["stripped-signature", reply.signature],
  ];
  if (mail.html !== null) {
    fields.push(["body-html", mail.html], ["stripped-html", strippedHtml(mail.html)]);
  }
  fields.push(["message-headers", JSON.stringify(mail.headers.map((h) => [h.name, h.value]))]);
  const cids: Record<string, string> = {};
  mail.attachments.forEach((a, i) => {
    if (a.contentId) cids[`<${a.contentId}>`] = `attachment-${i + 1}`;
  });
  if (Object.keys(cids).length) fields.push(["content-id-map", JSON.stringify(cids)]);
  fields.push(["attachment-count", String(mail.attachments.length)], ...signatureFields(ctx));

  if (!mail.attachments.length) {
    return {
      body: Buffer.from(new URLSearchParams(fields).toString(), "utf8"),
      contentType: "application/x-www-form-urlencoded",
      headers: {},
    };
  }
  const form = new FormData();
  for (const [k, v] of fields) form.append(k, v);
  mail.attachments.forEach((a, i) => {
    form.append(`attachment-${i + 1}`, filePart(a.content, a.contentType), a.filename);
  });
  return { ...(await formBody(form)), headers: {} };
}

export const mailgunFormat: PayloadFormat = { encode, verdict: retryAllBut(MAILGUN_STOP_STATUS) };
