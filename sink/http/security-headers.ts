// The security headers of the sink's HTTP responses, in one place (README "Security").
//
// Mail content is hostile: /html, attachments, /raw and /text are served
// under a CSP `sandbox` without allow-scripts (no script, form, plugin,
// popup or top navigation runs), and JSON under a policy that loads nothing
// and may not be framed.

/** On every response: no MIME sniffing (a text/plain body never becomes HTML), no Referer leaks. */
export const ALWAYS_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
});

export const JSON_CSP = "default-src 'none'; frame-ancestors 'none'";

/** Directives shared by every mail-derived body: nothing runs, nothing connects, only the sink's UI may frame it. */
const MAIL_BASE = [
  "default-src 'none'",
  "script-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'self'",
];

/** Attachments, /raw and /text: a sandbox without any allowance. */
export const MAIL_CONTENT_CSP = ["sandbox", ...MAIL_BASE, "img-src 'self'"].join("; ");

/** img-src sources added by ?remote=1: the user chose to load the message's remote images. */
const REMOTE_IMAGE_SOURCES = "https: http: data:";

/**
 * /html: sandboxed without allow-scripts; allow-same-origin (never together
 * with allow-scripts) lets the sink's own UI read the frame's height. Images
 * come from the sink (cid: rewritten to attachment URLs) unless `remote`.
 */
export function htmlCsp(remote: boolean): string {
  return [
    "sandbox allow-same-origin",
    ...MAIL_BASE,
    "style-src 'self' 'unsafe-inline'",
    "font-src 'self'",
    `img-src 'self'${remote ? ` ${REMOTE_IMAGE_SOURCES}` : ""}`,
  ].join("; ");
}
