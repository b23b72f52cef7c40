// Prepares a message's HTML for /html with a real HTML parser (htmlparser2):
// inline `cid:` references (src, background, CSS url()) become the message's
// attachment URLs, and <meta http-equiv="refresh"> goes. The CSP sandbox is
// what stops scripts; this only makes the page show what the mail meant to.
import type { Element } from "domhandler";
import { DomUtils, parseDocument } from "htmlparser2";

/** Attributes that name an image or resource by URL. */
const URL_ATTRIBUTES = ["src", "background", "poster", "href"] as const;
/** `url(cid:…)` inside CSS (a style attribute or a <style> element), optionally quoted. */
const CSS_CID_URL_RE = /url\(\s*(['"]?)\s*cid:([^'")\s]{1,256})\s*\1\s*\)/gi;

export type CidResolver = (cid: string) => string | null;

function resolveCid(value: string, resolve: CidResolver): string | null {
  const m = /^\s*cid:(.+?)\s*$/i.exec(value);
  if (!m) return null;
  let cid = m[1]!;
  try {
    cid = decodeURIComponent(cid);
  } catch {
    // not percent-encoded after all: use it as written
  }
  return resolve(cid.replace(/^<|>$/g, ""));
}

function rewriteCss(css: string, resolve: CidResolver): string {
  return css.replace(CSS_CID_URL_RE, (whole, _q: string, cid: string) => {
    const url = resolveCid(`cid:${cid}`, resolve);
    return url ? `url("${url}")` : whole;
  });
}

export function rewriteMailHtml(html: string, resolve: CidResolver): string {
  const doc = parseDocument(html);
  const elements = DomUtils.findAll(() => true, doc.children) as Element[];
  for (const el of elements) {
    if (el.name === "meta" && (el.attribs["http-equiv"] ?? "").trim().toLowerCase() === "refresh") {
      DomUtils.removeElement(el);
      continue;
    }
    for (const attr of URL_ATTRIBUTES) {
      const v = el.attribs[attr];
      if (v === undefined) continue;
      const url = resolveCid(v, resolve);
      if (url) el.attribs[attr] = url;
    }
    if (el.attribs.style) el.attribs.style = rewriteCss(el.attribs.style, resolve);
    if (el.name === "style") {
      for (const child of el.children)
        if (child.type === "text") child.data = rewriteCss(child.data, resolve);
    }
  }
  return DomUtils.getOuterHTML(doc.children, { encodeEntities: "utf8" });
}
