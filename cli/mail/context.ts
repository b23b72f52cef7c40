// What every `tun mail` subcommand shares: the client for the sink the user
// named (--sink, $TUN_SINK_URL, default), one-line errors, and stdout.
import type { ArgumentsCamelCase, Argv } from "yargs";
import { SinkClient } from "@tunmail/client";
import { asUserError, sinkUrl } from "../watch/sink-access.js";

export type Args = ArgumentsCamelCase<Record<string, unknown>>;

export function client(argv: Args): SinkClient {
  return new SinkClient(sinkUrl(argv.sink));
}

/** The `<id>` positional of show, raw, save and open. */
export function idArg(y: Argv): Argv {
  return y.positional("id", { type: "string", describe: "Message id (from tun mail ls)" });
}

/** Runs a subcommand, turning client errors into one-line user errors. */
export function run(fn: (argv: Args) => Promise<void>, ids?: (argv: Args) => string | undefined) {
  return async (argv: Args): Promise<void> => {
    try {
      await fn(argv);
    } catch (err) {
      throw asUserError(err, { id: ids?.(argv) });
    }
  };
}

/** Writes one line (or block) to stdout; callers pass text already made printable. */
export function out(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
}

/** Local date and time, YYYY-MM-DD HH:MM:SS: the console is read by a person in their own zone. */
export function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const two = (n: number): string => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
  );
}

export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
