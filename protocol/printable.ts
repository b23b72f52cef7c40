// The one rule for showing mail-derived text on a terminal or in a log.
// Captured mail is written by strangers: an ESC in a subject can clear the
// screen, set the window title, write the clipboard (OSC 52) or draw a spoofed
// link (OSC 8); a C1 byte such as U+009B is a CSI on some terminals; bidi
// overrides reorder what the reader sees. Every such character is shown as a
// visible escape instead (`\x1b`, `\x9b`, `\u202e`), so the text reads the same
// and the terminal receives nothing it would act on. Dependency-free: the CLI,
// the sink's log and the client library all use it.

/**
 * C0 controls, DEL, C1 controls, and the bidi embedding/override/isolate
 * controls (U+202A–202E, U+2066–2069).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/** The same set minus newline and tab, which a body keeps. */
// eslint-disable-next-line no-control-regex -- as above
const UNSAFE_IN_BODY = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/** The characters outside ASCII that JSON.stringify leaves raw but a terminal acts on. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * A single-line field (header value, name, address, filename, error text, log
 * value): every control character, newline and tab included, becomes an escape.
 */
export function printable(value: string): string {
  return value.replace(UNSAFE, escapeChar);
}

/**
 * A body: like `printable`, but newline and tab stay. CRLF becomes a newline
 * first; a lone CR (which would let a line overwrite itself) is escaped.
 */
export function printableBody(value: string): string {
  return value.replace(/\r\n/g, "\n").replace(UNSAFE_IN_BODY, escapeChar);
}

/**
 * JSON for one output line (NDJSON): JSON.stringify escapes C0 controls but
 * not DEL, C1 or the bidi controls; this escapes those as `\uXXXX` too. The
 * result parses back to the same value.
 */
export function printableJson(value: unknown): string {
  return JSON.stringify(value).replace(
    UNSAFE_IN_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
