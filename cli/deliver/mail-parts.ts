// What every payload format is built from: the sink's view of one captured
// message (envelope, ids, arrival time) plus the raw bytes parsed once on the
// laptop, because the wire Message carries attachment metadata but not their
// bytes, and providers post attachments byte for byte.
import type { AddressObject } from "mailparser";
import { addressMatches, type Message } from "../../protocol/wire.js";

export interface MailAddress {
  address: string;
  name: string;
}

export interface MailAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
  /** Without angle brackets; null when the part has no Content-ID. */
  contentId: string | null;
  inline: boolean;
}

export interface MailParts {
  /** The sink's message id (a ULID). */
  id: string;
  receivedAt: string;
  remoteIp: string;
  envelopeFrom: string;
  envelopeTo: string[];
  /** The envelope recipients this delivery is for (those matching the tunnel's patterns). */
  recipients: string[];
  raw: Buffer;
  /** The header block as received, up to (not including) the blank line. */
  headerBlock: string;
  /** Unfolded header fields in order; values as they appear (encoded words intact). */
  headers: { name: string; value: string }[];
  subject: string;
  from: MailAddress[];
  to: MailAddress[];
  cc: MailAddress[];
  replyTo: MailAddress[];
  /** The From/To/Cc header values decoded to UTF-8, as mail clients show them. */
  fromText: string;
  toText: string;
  ccText: string;
  /** The Date header as written by the sender, or "" when absent. */
  dateHeader: string;
  messageIdHeader: string;
  text: string | null;
  html: string | null;
  attachments: MailAttachment[];
}

/** Parses the raw bytes of `message`; `patterns` picks the recipients (all when empty or none match). */
export async function mailParts(message: Message, raw: Buffer, patterns: string[]): Promise<MailParts> {
  // Loaded on first use, so commands that never deliver (tun mail ls, tun --help) stay light.
  const { simpleParser } = await import("mailparser");
  const parsed = await simpleParser(raw, { skipImageLinks: true, skipTextLinks: true });
  const headerBlock = rawHeaderBlock(raw);
  const headers = headerFields(headerBlock);
  const matching = message.envelope.to.filter((rcpt) => patterns.some((p) => addressMatches(p, rcpt)));
  return {
    id: message.id,
    receivedAt: message.receivedAt,
    remoteIp: message.remoteIp,
    envelopeFrom: message.envelope.from,
    envelopeTo: message.envelope.to,
    recipients: matching.length ? matching : message.envelope.to,
    raw,
    headerBlock,
    headers,
    subject: parsed.subject ?? "",
    from: addresses(parsed.from),
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
    replyTo: addresses(parsed.replyTo),
    fromText: addressText(parsed.from),
    toText: addressText(parsed.to),
    ccText: addressText(parsed.cc),
    dateHeader: headers.find((h) => h.name.toLowerCase() === "date")?.value ?? "",
    messageIdHeader: parsed.messageId ?? "",
    text: parsed.text ?? null,
    html: typeof parsed.html === "string" ? parsed.html : null,
    attachments: parsed.attachments.map((a, i) => ({
      filename: a.filename ?? `attachment-${i + 1}`,
      contentType: a.contentType,
      content: a.content,
      contentId: a.cid ?? (a.contentId ? a.contentId.replace(/^<|>$/g, "") : null),
      inline: a.contentDisposition === "inline",
    })),
  };
}

/**
 * Loads the MIME parser and Node's fetch/FormData (undici) ahead of the first
 * message: together they take from 0.2 s to most of a second on a busy laptop,
 * which the first delivery would otherwise wait for.
 */
export async function preloadPayloadCode(): Promise<void> {
  void new Response(new FormData());
  await import("mailparser");
}

/** The bytes before the first empty line, decoded as UTF-8 (headers are ASCII or, per RFC 6532, UTF-8). */
export function rawHeaderBlock(raw: Buffer): string {
  const crlf = raw.indexOf("\r\n\r\n");
  const lf = raw.indexOf("\n\n");
  const ends = [crlf, lf].filter((i) => i >= 0);
  const end = ends.length ? Math.min(...ends) : raw.length;
  return raw.subarray(0, end).toString("utf8");
}

/** Unfolds (RFC 5322 §2.2.3: drop the line break, keep the white space) and splits each field. */
export function headerFields(block: string): { name: string; value: string }[] {
  const fields: { name: string; value: string }[] = [];
  for (const line of block.replace(/\r?\n(?=[ \t])/g, "").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

function list(obj: AddressObject | AddressObject[] | undefined): AddressObject[] {
  return obj === undefined ? [] : Array.isArray(obj) ? obj : [obj];
}

function addresses(obj: AddressObject | AddressObject[] | undefined): MailAddress[] {
  const out: MailAddress[] = [];
  const walk = (entries: AddressObject["value"]): void => {
    for (const e of entries) {
      if (e.group) walk(e.group);
      else if (e.address) out.push({ address: e.address, name: e.name ?? "" });
    }
  };
  for (const o of list(obj)) walk(o.value);
  return out;
}

function addressText(obj: AddressObject | AddressObject[] | undefined): string {
  return list(obj)
    .map((o) => o.text)
    .join(", ");
}

/** `"Name" <address>` or the bare address, the way providers print a recipient list. */
export function formatAddress(a: MailAddress): string {
  return a.name ? `"${a.name.replace(/(["\\])/g, "\\$1")}" <${a.address}>` : a.address;
}
