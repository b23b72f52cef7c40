// One line per event on stdout, tagged by subsystem ("[smtp] accepted …").
// Colour only on a terminal, so journalctl and captured test output stay plain.
import kleur from "kleur";

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

export function createLogger(opts: { quiet: boolean; out?: NodeJS.WriteStream }): Logger {
  if (opts.quiet) return { info: () => {}, error: () => {} };
  const out = opts.out ?? process.stdout;
  const colour = Boolean(out.isTTY) && !process.env.NO_COLOR;
  const tag = (s: Subsystem): string => (colour ? TAG_COLOURS[s](`[${s}]`) : `[${s}]`);
  return {
    info: (s, line) => void out.write(`${tag(s)} ${line}\n`),
    error: (s, line) => void out.write(`${tag(s)} ${colour ? kleur.red(line) : line}\n`),
  };
}

/** Quotes a value for a log line: control characters escaped, long values cut. */
export function quoteForLog(value: string, maxChars = 120): string {
  const cut = value.length > maxChars ? value.slice(0, maxChars) + "…" : value;
  return JSON.stringify(cut);
}
