// Links in a message: every <a href> of the HTML part with its visible text
// (read with htmlparser2, a real HTML parser), then the bare URLs of the text
// part (found with linkify-it). Only http(s) and mailto links; none is ever
// followed. A link whose visible text shows another host than its href goes to
// is flagged: that is how a phishing mail hides where a link leads.
import { Parser } from "htmlparser2";
import LinkifyIt from "linkify-it";
import type { ExtractedLink } from "../../protocol/wire.js";

/** Characters of HTML parsed for links (a 1 MiB page holds thousands of them). */
export const LINK_SCAN_MAX_HTML_CHARS = 1024 * 1024;
/** Characters of the text part searched for bare URLs. */
export const LINK_SCAN_MAX_TEXT_CHARS = 256 * 1024;
/** At most this many links are reported. */
export const LINKS_MAX = 500;
/** Visible text kept per link. */
export const LINK_TEXT_MAX_CHARS = 500;

const ALLOWED_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
// what a reader takes for a host: after a scheme, after www., after an @, or a whole text like "example.com/path"
const HOST_IN_TEXT_RE =
  /(?:[a-z][a-z0-9+.-]*:\/\/|\bwww\.|@)((?:[\p{L}\p{N}-]+\.)+[\p{L}]{2,63})|^((?:[\p{L}\p{N}-]+\.)+[\p{L}]{2,63})(?:[/:?#]\S*)?$/iu;
// "report.pdf" as a link's text names a file, not a host
const FILE_EXTENSIONS = new Set([
  "pdf",
  "png",
  "jpg",
  "jpeg",
  "gif",
  "svg",
  "zip",
  "doc",
  "docx",
  "xls",
  "xlsx",
  "csv",
  "txt",
  "htm",
  "html",
  "ics",
]);

const linkify = new LinkifyIt(undefined, { fuzzyLink: false, fuzzyEmail: false, fuzzyIP: false });

/** The host a link goes to: the URL's host, or a mailto's address domain. Null for links we do not report. */
function hrefHost(href: string): string | null {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return null;
  }
  if (!ALLOWED_PROTOCOLS.has(url.protocol)) return null;
  if (url.protocol === "mailto:") {
    const address = decodeURIComponent(url.pathname.split(",")[0] ?? "");
    return address.slice(address.lastIndexOf("@") + 1).toLowerCase();
  }
  return url.hostname.toLowerCase();
}

/** The host the visible text shows, or null when it shows none ("Click here"). */
export function textHost(text: string): string | null {
  const m = HOST_IN_TEXT_RE.exec(text.trim());
  const host = (m?.[1] ?? m?.[2])?.toLowerCase();
  if (!host) return null;
  if (!m?.[1] && FILE_EXTENSIONS.has(host.slice(host.lastIndexOf(".") + 1))) return null;
  try {
    return new URL(`http://${host}`).hostname; // punycode, as the href's host is
  } catch {
    return null;
  }
}

function sameSite(a: string, b: string): boolean {
  const strip = (h: string): string => h.replace(/^www\./, "");
  const x = strip(a);
  const y = strip(b);
  // a subdomain is run by the owner of its parent (accounts.example.com, example.com)
  return x === y || x.endsWith("." + y) || y.endsWith("." + x);
}

function link(href: string, text: string): ExtractedLink | null {
  const host = hrefHost(href);
  if (host === null) return null;
  const shown = textHost(text);
  return { href, text, mismatch: shown !== null && !sameSite(shown, host) };
}

/** `<a href>` links of an HTML document, in document order, with their visible text. */
export function htmlLinks(html: string): ExtractedLink[] {
  const out: ExtractedLink[] = [];
  let open: { href: string; text: string; alt: string } | null = null;
  const close = (): void => {
    if (!open) return;
    const text = (open.text.replace(/\s+/g, " ").trim() || open.alt.trim()).slice(0, LINK_TEXT_MAX_CHARS);
    const l = link(open.href, text);
    if (l && out.length < LINKS_MAX) out.push(l);
    open = null;
  };
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        if (name === "a") {
          close(); // <a> cannot nest: a new one ends the previous
          if (attrs.href !== undefined) open = { href: attrs.href.trim(), text: "", alt: "" };
        } else if (name === "img" && open && attrs.alt) {
          open.alt += " " + attrs.alt;
        }
      },
      ontext(text) {
        if (open && open.text.length < LINK_TEXT_MAX_CHARS) open.text += text;
      },
      onclosetag(name) {
        if (name === "a") close();
      },
    },
    { decodeEntities: true },
  );
  parser.write(html.slice(0, LINK_SCAN_MAX_HTML_CHARS));
  parser.end();
  close();
  return out;
}

/** Bare http(s) and mailto URLs written in a text part. */
export function textLinks(text: string): ExtractedLink[] {
  const out: ExtractedLink[] = [];
  for (const m of linkify.match(text.slice(0, LINK_SCAN_MAX_TEXT_CHARS)) ?? []) {
    const l = link(m.url, m.text);
    if (l) out.push(l);
    if (out.length >= LINKS_MAX) break;
  }
  return out;
}

/** Every link of a message: the HTML's first, then the text part's URLs the HTML did not already have. */
export function findLinks(html: string | null, text: string | null): ExtractedLink[] {
  const fromHtml = html ? htmlLinks(html) : [];
  const seen = new Set(fromHtml.map((l) => l.href));
  const fromText = text ? textLinks(text).filter((l) => !seen.has(l.href) && (seen.add(l.href), true)) : [];
  return [...fromHtml, ...fromText].slice(0, LINKS_MAX);
}
