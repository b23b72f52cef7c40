// One line per event on stdout, tagged by subsystem ("[smtp] accepted …").
// Colour only on a terminal, so journalctl and captured test output stay plain.
// Every line passes through `printable` here, once, so no value a log line
// carries (subjects, addresses, filters, URLs, error text: all of it can come
// from a stranger's mail or request) puts a control character, a bidi control
// or a forged second line into the terminal or the journal.
import kleur from "kleur";
import { printable } from "../protocol/printable.js";

export type Subsystem = "sink" | "smtp" | "http" | "stream" | "store";

export interface Logger {
  info(subsystem: Subsystem, line: string): void;
  error(subsystem: Subsystem, line: string): void;
}

const TAG_COLOURS: Record<Subsystem, (s: string) => string> = {
  sink: kleur.bold,
  smtp: kleur.cyan,
  http: kleur.green,
  stream: kleur.magenta,
  store: kleur.yellow,
};

/**
 * Lines written within one event-loop turn go out in one write: under load
 * that is one syscall per turn instead of one per message (stdout is a pipe
 * to journald on the VM). Whatever is pending is written before the process exits.
 */
function batchedWriter(out: NodeJS.WriteStream): (line: string) => void {
  let pending = "";
  const flush = (): void => {
    if (!pending) return;
    const text = pending;
    pending = "";
    out.write(text);
  };
  process.once("exit", flush);
  return (line) => {
    if (!pending) setImmediate(flush);
    pending += line;
  };
}

export function createLogger(opts: { quiet: boolean; out?: NodeJS.WriteStream }): Logger {
  if (opts.quiet) return { info: () => {}, error: () => {} };
  const out = opts.out ?? process.stdout;
  const colour = Boolean(out.isTTY) && !process.env.NO_COLOR;
  const tag = (s: Subsystem): string => (colour ? TAG_COLOURS[s](`[${s}]`) : `[${s}]`);
  // stdout gone (journald restarted, pipe closed): keep serving mail without logs rather than crash
  out.on("error", () => {});
  const write = batchedWriter(out);
  return {
    info: (s, line) => write(`${tag(s)} ${printable(line)}\n`),
    error: (s, line) => write(`${tag(s)} ${colour ? kleur.red(printable(line)) : printable(line)}\n`),
  };
}

/**
 * Quotes a value for a log line, long values cut. Quotes and backslashes are
 * escaped so the value's end is unambiguous; control characters are left to
 * the logger's `printable`, so every line follows the one rule.
 */
export function quoteForLog(value: string, maxChars = 120): string {
  const cut = value.length > maxChars ? value.slice(0, maxChars) + "…" : value;
  return `"${cut.replace(/["\\]/g, (c) => "\\" + c)}"`;
}
