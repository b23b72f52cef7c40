// The console block `tun watch` (and `tun up`) prints for each captured message.
// A pure function of the message, so it is tested without a terminal. Every
// mail-derived string goes through `printable` (fields) or `printableBody`
// (body lines) before colour is added, so the mail's own control characters
// never reach the terminal while ours do.
import kleur from "kleur";
import { printable, printableBody } from "../../protocol/printable.js";
import type { Address, Message } from "../../protocol/wire.js";

/** Body lines shown under the headers; the rest is one `tun mail show` away. */
export const BODY_PREVIEW_LINES = 8;
/** Lines longer than this are cut in the preview (links are never cut). */
export const BODY_PREVIEW_LINE_CHARS = 200;

const PREFIX = "[SMTP]";
const BODY_INDENT = "  ";
// Trailing sentence punctuation is not part of a link.
const LINK_RE = /https?:\/\/[^\s<>"'\])]*[^\s<>"'\]).,;:!?]/g;
// A 4–8 digit number standing alone: "code 482913." yes; dates, decimals, ids no.
const CODE_RE = /(?<![\w\-./:#])\d{4,8}(?![\w\-/]|[.,:]\d)/g;

interface Palette {
  prefix(s: string): string;
  banner(s: string): string;
  label(s: string): string;
  dim(s: string): string;
  link(s: string): string;
  code(s: string): string;
}

const PLAIN: Palette = {
  prefix: (s) => s,
  banner: (s) => s,
  label: (s) => s,
  dim: (s) => s,
  link: (s) => s,
  code: (s) => s,
};

// kleur switches itself off when process.stdout is not a TTY; the caller has
// already decided (useColor, or `tun up` for its own output), so force it on
// for the duration of one synchronous call.
function forced(style: (s: string) => string): (s: string) => string {
  return (s) => {
    const was = kleur.enabled;
    kleur.enabled = true;
    try {
      return style(s);
    } finally {
      kleur.enabled = was;
    }
  };
}

const COLORED: Palette = {
  prefix: forced((s) => kleur.magenta(s)),
  banner: forced((s) => kleur.bold().green(s)),
  label: forced((s) => kleur.bold(s)),
  dim: forced((s) => kleur.gray(s)),
  link: forced((s) => kleur.underline().cyan(s)),
  code: forced((s) => kleur.bold().yellow(s)),
};

export interface RenderOptions {
  color: boolean;
  /** The message's most likely one-time code (the sink's /extract), shown as a `Code:` line. */
  code?: string | undefined;
}

export function formatMessage(msg: Message, opts: RenderOptions): string {
  const p = opts.color ? COLORED : PLAIN;
  const head = (label: string, value: string): string =>
    `${p.prefix(PREFIX)} ${p.label(label + ":")} ${value}`;
  const lines = [
    `${p.prefix(PREFIX)} ${p.banner("=== NEW EMAIL ===")} ${clock(msg.receivedAt)}  ${p.dim(msg.id)}`,
    head(
      "From",
      msg.from ? formatAddress(msg.from) : msg.envelope.from ? printable(msg.envelope.from) : "<>",
    ),
    head("To", msg.to.length ? msg.to.map(formatAddress).join(", ") : printable(msg.envelope.to.join(", "))),
  ];
  if (msg.cc.length) lines.push(head("Cc", msg.cc.map(formatAddress).join(", ")));
  const bcc = envelopeOnly(msg);
  if (bcc.length) lines.push(head("Bcc", printable(bcc.join(", "))));
  lines.push(head("Subject", msg.subject ? printable(msg.subject) : p.dim("(no subject)")));
  if (opts.code) lines.push(head("Code", p.code(printable(opts.code))));
  // only sinks run with --auth accept-any record a user; the line would be noise otherwise
  if (msg.authUser !== null && msg.authUser !== undefined) lines.push(head("Auth", printable(msg.authUser)));
  if (msg.attachments.length) {
    const list = msg.attachments.map(
      (a) => `${printable(a.filename ?? "(unnamed)")} (${formatSize(a.size)})`,
    );
    lines.push(head("Attachments", list.join(", ")));
  }
  lines.push(...bodyPreview(msg).map((line) => BODY_INDENT + highlight(printableBody(line), p)));
  return lines.join("\n");
}

/** Recipients that were in the envelope but not in To/Cc (Bcc, or a list expansion). */
function envelopeOnly(msg: Message): string[] {
  if (!msg.to.length) return [];
  const shown = new Set([...msg.to, ...msg.cc].map((a) => a.address.toLowerCase()));
  return msg.envelope.to.filter((a) => !shown.has(a.toLowerCase()));
}

function bodyPreview(msg: Message): string[] {
  // The sink derives `text` from HTML-only mail (mailparser runs html-to-text), so
  // the console never converts HTML itself.
  const source = msg.text?.trim() ? msg.text : msg.html ? `(HTML only: tun mail open ${msg.id})` : "";
  const lines: string[] = [];
  let blank = false;
  for (const raw of source.replace(/\r\n?/g, "\n").split("\n")) {
    const line = raw.trimEnd();
    if (!line.trim()) {
      blank = lines.length > 0;
      continue;
    }
    if (blank) lines.push("");
    blank = false;
    lines.push(line);
  }
  if (!lines.length) return ["(empty body)"];
  const shown = lines.slice(0, BODY_PREVIEW_LINES).map(cutLine);
  const rest = lines.length - shown.length;
  if (rest > 0) shown.push(`… (${rest} more line${rest === 1 ? "" : "s"}: tun mail show ${msg.id})`);
  return shown;
}

function cutLine(line: string): string {
  if (line.length <= BODY_PREVIEW_LINE_CHARS) return line;
  // Never cut inside a link: extend the cut to the end of the link that straddles it.
  let end = BODY_PREVIEW_LINE_CHARS;
  for (const m of line.matchAll(LINK_RE)) {
    if (m.index < end && m.index + m[0].length > end) end = m.index + m[0].length;
  }
  return end >= line.length ? line : line.slice(0, end) + " …";
}

function highlight(line: string, p: Palette): string {
  if (p === PLAIN) return line;
  let out = "";
  let last = 0;
  for (const m of line.matchAll(LINK_RE)) {
    out += highlightCodes(line.slice(last, m.index), p) + p.link(m[0]);
    last = m.index + m[0].length;
  }
  return out + highlightCodes(line.slice(last), p);
}

function highlightCodes(text: string, p: Palette): string {
  return text.replace(CODE_RE, (code) => p.code(code));
}

/** The spans `highlight` would colour, for tests and for anyone extracting codes/links. */
export function findHighlights(line: string): { links: string[]; codes: string[] } {
  const links = [...line.matchAll(LINK_RE)].map((m) => m[0]);
  const codes = line.split(LINK_RE).flatMap((part) => part.match(CODE_RE) ?? []);
  return { links, codes };
}

/** `Name <address>`, made printable. */
export function formatAddress(a: Address): string {
  return printable(a.name ? `${a.name} <${a.address}>` : a.address);
}

/** "812 B", "34 KB", "1.2 MB" (binary units, as file managers show them). */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** Local wall-clock time of arrival, HH:MM:SS: the console is read by a person in their own zone. */
function clock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const two = (n: number): string => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}
