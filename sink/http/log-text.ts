// Request values in the sink's log lines: control characters never reach the
// terminal or journal that shows the log.
// TODO(term-cli): replace with protocol/printable.ts once it lands on main (one rule for CLI and sink).

/** C0, DEL, C1 and the bidi controls, shown as \xNN / \uNNNN. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNPRINTABLE_RE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export function printableForLog(value: string): string {
  return value.replace(UNPRINTABLE_RE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`;
  });
}
