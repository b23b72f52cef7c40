// Raw message bytes -> the fields the API shows and filters on. Parsing never
// decides whether a message is stored: a message mailparser cannot make sense
// of is kept with what could be read (the raw bytes are always kept).
import { simpleParser, type AddressObject, type ParsedMail, type Attachment } from "mailparser";
import type { Address, AttachmentInfo, Header } from "../../protocol/wire.js";

/** Characters of body text kept as the list snippet. */
export const SNIPPET_CHARS = 200;

export interface ParsedFields {
  from: Address | null;
  to: Address[];
  cc: Address[];
  subject: string;
  snippet: string;
  messageId: string | null;
  date: string | null;
  headers: Header[];
  text: string | null;
  html: string | null;
  attachments: AttachmentInfo[];
}

const PARSE_OPTIONS = {
  // keep cid: links in the stored HTML (the /html endpoint points them at the
  // attachment URLs) instead of inlining every image as a data: URI
  keepCidLinks: true,
  skipImageLinks: true,
  skipTextToHtml: true,
  skipTextLinks: true,
} as const;

function addresses(field: AddressObject | AddressObject[] | undefined): Address[] {
  if (!field) return [];
  const out: Address[] = [];
  const visit = (list: AddressObject["value"]): void => {
    for (const a of list) {
      if (a.group) visit(a.group);
      else if (a.address !== undefined || a.name) out.push({ address: a.address ?? "", name: a.name ?? "" });
    }
  };
  for (const obj of Array.isArray(field) ? field : [field]) visit(obj.value);
  return out;
}

function headerList(parsed: ParsedMail): Header[] {
  return (parsed.headerLines ?? []).map(({ line }) => {
    const colon = line.indexOf(":");
    const key = colon >= 0 ? line.slice(0, colon).trim() : line;
    const value =
      colon >= 0
        ? line
            .slice(colon + 1)
            .replace(/\r?\n[ \t]+/g, " ")
            .trim()
        : "";
    return { key, value };
  });
}

function attachmentInfo(att: Attachment, index: number): AttachmentInfo {
  return {
    id: String(index + 1),
    filename: att.filename ?? null,
    contentType: att.contentType || "application/octet-stream",
    size: att.size ?? att.content?.length ?? 0,
    contentId: att.contentId ? att.contentId.replace(/^<|>$/g, "") : null,
    inline: att.contentDisposition === "inline" || Boolean(att.related),
  };
}

/** Characters of body text looked at for the snippet: normalising a whole 1 MiB body showed in profiles. */
const SNIPPET_SOURCE_CHARS = SNIPPET_CHARS * 8;

function snippetOf(text: string | null): string {
  if (!text) return "";
  return text.slice(0, SNIPPET_SOURCE_CHARS).replace(/\s+/g, " ").trim().slice(0, SNIPPET_CHARS);
}

/** Best-effort subject from the raw header block, for messages mailparser rejects. */
export function fallbackFields(raw: Buffer): ParsedFields {
  const head = raw.subarray(0, 64 * 1024).toString("latin1");
  const m = /^subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(head.split(/\r?\n\r?\n/)[0] ?? "");
  return {
    from: null,
    to: [],
    cc: [],
    subject: m ? m[1]!.replace(/\r?\n[ \t]+/g, " ").trim() : "",
    snippet: "",
    messageId: null,
    date: null,
    headers: [],
    text: null,
    html: null,
    attachments: [],
  };
}

/** The unfolded value of each top-level header line named `key` (lower case), in message order. */
function headerValues(parsed: ParsedMail, key: string): string[] {
  return (parsed.headerLines ?? [])
    .filter((h) => h.key === key)
    .map(({ line }) =>
      line
        .slice(line.indexOf(":") + 1)
        .replace(/\r?\n[ \t]+/g, " ")
        .trim(),
    );
}

/**
 * `Date:` as written by the sender. mailparser answers an unparseable one with
 * the time of parsing, and the last of several; a reader must see null or the
 * first one, never the receive time passed off as the sender's.
 */
function dateOf(parsed: ParsedMail): string | null {
  const first = headerValues(parsed, "date")[0];
  if (first === undefined) return null;
  const d = new Date(first);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * mailparser keeps the last of repeated From:/Subject: headers; other mail
 * readers (and what a phishing test expects the user to see) take the first.
 * When a message repeats one, the first lines alone are parsed again so their
 * encoded words and address syntax are decoded the same way.
 */
async function firstFromAndSubject(parsed: ParsedMail): Promise<{ from: Address | null; subject: string }> {
  const lines = parsed.headerLines ?? [];
  const firstLine = (key: string) => lines.find((h) => h.key === key)?.line;
  const repeated = (key: string) => lines.filter((h) => h.key === key).length > 1;
  if (!repeated("from") && !repeated("subject")) {
    return { from: addresses(parsed.from)[0] ?? null, subject: parsed.subject ?? "" };
  }
  const head = [firstLine("from"), firstLine("subject")].filter((l) => l !== undefined).join("\r\n");
  const firsts = await simpleParser(Buffer.from(head + "\r\n\r\n", "utf8"), PARSE_OPTIONS);
  return { from: addresses(firsts.from)[0] ?? null, subject: firsts.subject ?? "" };
}

export async function parseMessage(raw: Buffer): Promise<ParsedFields> {
  let parsed: ParsedMail;
  let first: { from: Address | null; subject: string };
  try {
    parsed = await simpleParser(raw, PARSE_OPTIONS);
    first = await firstFromAndSubject(parsed);
  } catch {
    return fallbackFields(raw);
  }
  const text = typeof parsed.text === "string" ? parsed.text : null;
  const date = dateOf(parsed);
  return {
    from: first.from,
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
    subject: first.subject,
    snippet: snippetOf(text),
    messageId: parsed.messageId ?? null,
    date,
    headers: headerList(parsed),
    text,
    html: typeof parsed.html === "string" ? parsed.html : null,
    attachments: parsed.attachments.map(attachmentInfo),
  };
}

export interface ExtractedAttachment {
  content: Buffer;
  contentType: string;
  filename: string | null;
}

/** The content of one attachment, found by parsing the raw message again (ids are parse-order positions). */
export async function extractAttachment(
  raw: Buffer,
  attachmentId: string,
): Promise<ExtractedAttachment | null> {
  const index = Number(attachmentId) - 1;
  if (!Number.isInteger(index) || index < 0) return null;
  const parsed = await simpleParser(raw, PARSE_OPTIONS);
  const att = parsed.attachments[index];
  if (!att) return null;
  return {
    content: att.content,
    contentType: att.contentType || "application/octet-stream",
    filename: att.filename ?? null,
  };
}
