// The reply part of a text body, as inbound providers derive it: Mailgun's
// `stripped-text` / `stripped-signature` and Postmark's `StrippedTextReply`
// drop the quoted message a mail client appends below a reply ("On … wrote:"
// and the `>` lines, Outlook's "Original Message" block) and, for Mailgun, the
// signature after a "-- " line (RFC 3676 §4.3). Providers use heuristics
// trained on real clients; these are the markers the common clients write.

export interface ReplyText {
  /** The new text above the quote, without the signature; trimmed. */
  reply: string;
  /** The signature block (from the "-- " line on), or "" when there is none. */
  signature: string;
  /** True when a quoted part was found and removed. */
  quoted: boolean;
}

/** "On Tue, 3 Dec 2026 at 10:00, Ann <ann@x.test> wrote:" (Gmail, Apple Mail, Thunderbird); may wrap onto a second line. */
const ATTRIBUTION_START = /^\s*On\s.+/;
const ATTRIBUTION_END = /wrote:\s*$/;
/** Outlook: "-----Original Message-----", or a rule followed by a From: line. */
const ORIGINAL_MESSAGE = /^\s*-{2,}\s*Original Message\s*-{2,}\s*$/i;
const OUTLOOK_RULE = /^\s*_{10,}\s*$/;
const HEADER_FROM = /^\s*From:\s/;
const QUOTE_LINE = /^\s*>/;
const SIGNATURE_DELIMITER = /^-- ?$/;

export function replyText(text: string): ReplyText {
  const lines = text.split(/\r?\n/);
  const quoteAt = quoteStart(lines);
  const above = quoteAt === -1 ? lines : lines.slice(0, quoteAt);
  let sigAt = -1;
  for (let i = above.length - 1; i >= 0; i--) {
    if (SIGNATURE_DELIMITER.test(above[i]!)) {
      sigAt = i;
      break;
    }
  }
  const body = sigAt === -1 ? above : above.slice(0, sigAt);
  return {
    reply: body.join("\n").trim(),
    signature: sigAt === -1 ? "" : above.slice(sigAt).join("\n").trim(),
    quoted: quoteAt !== -1,
  };
}

function quoteStart(lines: string[]): number {
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (ATTRIBUTION_START.test(line)) {
      if (ATTRIBUTION_END.test(line)) return i;
      if (i + 1 < lines.length && ATTRIBUTION_END.test(lines[i + 1]!)) return i;
    }
    if (ORIGINAL_MESSAGE.test(line)) return i;
    if (OUTLOOK_RULE.test(line) && i + 1 < lines.length && HEADER_FROM.test(lines[i + 1]!)) return i;
    if (QUOTE_LINE.test(line)) return i;
  }
  return -1;
}

/**
 * The HTML body without its quoted part: everything from the first
 * `<blockquote>` or Gmail's `gmail_quote` container on, plus the attribution
 * line just before it, up to the end of the body.
 */
export function strippedHtml(html: string): string {
  const marker = /<div[^>]*class="[^"]*gmail_quote[^"]*"[^>]*>|<blockquote\b[^>]*>/i.exec(html);
  if (!marker) return html;
  const before = html.slice(0, marker.index).replace(/On\s[^<]*wrote:\s*(<br\s*\/?>\s*)*$/i, "");
  const bodyEnd = /<\/body>/i.exec(html.slice(marker.index));
  const after = bodyEnd ? html.slice(marker.index + bodyEnd.index) : "";
  return before + after;
}
