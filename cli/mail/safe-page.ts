// The page `tun mail open` writes: the message's HTML with scripts, event
// handlers, forms, frames, plugins and meta refreshes removed by a maintained
// sanitiser (sanitize-html: an allow-list, not patterns), under a
// Content-Security-Policy that lets nothing run or connect. A meta policy
// cannot sandbox, so the page says `default-src 'none'` and allows only inline
// styles and the images the user chose: inline (cid:) images as data: URIs,
// remote ones only when asked.
import sanitizeHtml from "sanitize-html";

export interface PageOptions {
  /** Allow http(s) images (tracking pixels included); default off. */
  remoteImages: boolean;
  /** `cid` (without <>) -> data: URI of the inline image. */
  inlineImages: Map<string, string>;
  title: string;
}

export function contentSecurityPolicy(remoteImages: boolean): string {
  const img = remoteImages ? "img-src data: http: https:" : "img-src data:";
  return `default-src 'none'; style-src 'unsafe-inline'; ${img}; form-action 'none'; base-uri 'none'`;
}

const GLOBAL_ATTRIBUTES = [
  "style",
  "class",
  "align",
  "valign",
  "width",
  "height",
  "bgcolor",
  "color",
  "border",
  "dir",
  "lang",
  "title",
];

export function sanitizeMailHtml(html: string, opts: PageOptions): string {
  return sanitizeHtml(html, {
    // Mail layouts are tables, fonts and inline styles; everything else that is
    // not listed (script, iframe, object, embed, form, input, meta, link, base,
    // svg, math…) goes, and with it every on* attribute.
    allowedTags: [...sanitizeHtml.defaults.allowedTags, "img", "style", "font", "center", "big", "small"],
    allowedAttributes: {
      "*": GLOBAL_ATTRIBUTES,
      a: ["href", "name", "target"],
      img: ["src", "alt"],
      font: ["face", "size"],
      table: ["cellpadding", "cellspacing"],
      td: ["colspan", "rowspan", "nowrap"],
      th: ["colspan", "rowspan", "nowrap"],
    },
    allowedSchemes: ["http", "https", "mailto", "tel"],
    allowedSchemesByTag: { img: opts.remoteImages ? ["data", "http", "https"] : ["data"] },
    allowProtocolRelative: false,
    // <style> is kept for layout; the CSP still refuses every URL it could name except images.
    allowVulnerableTags: true,
    nonTextTags: ["script", "style", "textarea", "option", "noscript", "title", "xmp", "noembed", "noframes"],
    transformTags: {
      img: (tagName, attribs) => {
        const src = attribs.src ?? "";
        if (!/^cid:/i.test(src)) return { tagName, attribs };
        const data = opts.inlineImages.get(cidOf(src));
        const { src: _dropped, ...rest } = attribs;
        return { tagName, attribs: data ? { ...rest, src: data } : rest };
      },
    },
  });
}

function cidOf(src: string): string {
  const id = src.slice("cid:".length).replace(/^<|>$/g, "");
  try {
    return decodeURIComponent(id);
  } catch {
    return id;
  }
}

/** The whole page written to disk. */
export function safePage(html: string, opts: PageOptions): string {
  const policy = contentSecurityPolicy(opts.remoteImages);
  return (
    "<!doctype html>\n<html>\n<head>\n" +
    // First in <head>, so it governs everything after it.
    `<meta http-equiv="Content-Security-Policy" content="${policy}">\n` +
    '<meta charset="utf-8">\n<meta name="referrer" content="no-referrer">\n' +
    `<title>${escapeText(opts.title)}</title>\n</head>\n<body>\n` +
    sanitizeMailHtml(html, opts) +
    "\n</body>\n</html>\n"
  );
}

function escapeText(s: string): string {
  return s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
