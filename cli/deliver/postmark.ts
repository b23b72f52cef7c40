// Format "postmark": Postmark's inbound webhook,
// https://postmarkapp.com/developer/webhooks/inbound-webhook and
// https://postmarkapp.com/developer/user-guide/inbound/parse-an-email
// One JSON document (application/json). MailboxHash is the plus-addressing
// part of a recipient ("reply+4821@…" → "4821"); the top-level one comes from
// OriginalRecipient, the envelope address the mail was delivered to.
// StrippedTextReply is the new text above a quoted reply, or "" when the
// message quotes nothing. Headers lists the fields that have no top-level
// property of their own. MessageID is Postmark's id for the inbound message (a
// UUID), derived from the sink's id so retries and replays carry the same one.
// Postmark retries every non-200 answer except 403.
import { createHash } from "node:crypto";
import { formatAddress, type MailAddress, type MailParts } from "./mail-parts.js";
import { replyText } from "./reply-text.js";
import { retryAllBut, type Payload, type PayloadFormat } from "./payload.js";

/** Postmark stops retrying on 403 Forbidden. */
export const POSTMARK_STOP_STATUS = 403;

/** Fields Postmark lifts out of the header list into properties of their own. */
const TOP_LEVEL_HEADERS = new Set(["from", "to", "cc", "bcc", "reply-to", "subject", "date"]);

export interface PostmarkRecipient {
  Email: string;
  Name: string;
  MailboxHash: string;
}

/** The text after the first "+" in the local part, or "". */
export function mailboxHash(address: string): string {
  const at = address.lastIndexOf("@");
  const local = at < 0 ? address : address.slice(0, at);
  const plus = local.indexOf("+");
  return plus < 0 ? "" : local.slice(plus + 1);
}

function recipient(a: MailAddress): PostmarkRecipient {
  return { Email: a.address, Name: a.name, MailboxHash: mailboxHash(a.address) };
}

/** A stable UUID-shaped id for one sink message. */
function messageUuid(id: string): string {
  const h = createHash("sha256").update(`tun:${id}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function postmarkDocument(mail: MailParts) {
  const from = mail.from[0] ?? { address: mail.envelopeFrom, name: "" };
  const original = mail.recipients[0] ?? "";
  const text = mail.text ?? "";
  const reply = replyText(text);
  return {
    FromName: from.name,
    MessageStream: "inbound",
    From: from.address,
    FromFull: recipient(from),
    To: mail.to.map(formatAddress).join(", "),
    ToFull: mail.to.map(recipient),
    Cc: mail.cc.map(formatAddress).join(", "),
    CcFull: mail.cc.map(recipient),
    Bcc: "",
    BccFull: [] as PostmarkRecipient[],
    OriginalRecipient: original,
    Subject: mail.subject,
    MessageID: messageUuid(mail.id),
    ReplyTo: mail.replyTo.map((a) => a.address).join(", "),
    MailboxHash: mailboxHash(original),
    Date: mail.dateHeader,
    TextBody: text,
    HtmlBody: mail.html ?? "",
    StrippedTextReply: reply.quoted ? reply.reply : "",
    Tag: "",
    Headers: mail.headers
      .filter((h) => !TOP_LEVEL_HEADERS.has(h.name.toLowerCase()))
      .map((h) => ({ Name: h.name, Value: h.value })),
    Attachments: mail.attachments.map((a) => ({
      Name: a.filename,
      Content: a.content.toString("base64"),
      ContentType: a.contentType,
      ContentLength: a.content.length,
      ContentID: a.contentId ?? "",
    })),
  };
}

export const postmarkFormat: PayloadFormat = {
  encode(mail: MailParts): Promise<Payload> {
    return Promise.resolve({
      body: Buffer.from(JSON.stringify(postmarkDocument(mail)), "utf8"),
      contentType: "application/json",
      headers: {},
    });
  },
  verdict: retryAllBut(POSTMARK_STOP_STATUS),
};
