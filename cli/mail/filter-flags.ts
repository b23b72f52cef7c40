// The filter flags `tun mail ls` (and `wait`) read, validated the same way:
// a flag given with an empty value is a usage error, never "no filter".
import type { Argv } from "yargs";
import type { MessageFilter } from "../../protocol/wire.js";
import { UsageError } from "../errors.js";
import { addressPatterns } from "../watch/sink-access.js";
import type { Args } from "./context.js";

export const single = (describe: string) => ({ type: "string" as const, requiresArg: true, describe });

/** A text flag's value: undefined when not given, a usage error when given empty. */
export function textFlag(argv: Args, name: string): string | undefined {
  const value = argv[name];
  if (value === undefined) return undefined;
  const s = String(value).trim();
  if (!s) throw new UsageError(`--${name}: give a value, or leave the flag out`);
  return s;
}

/** --to, --from, --subject, --q, --since and --search, as `tun mail ls` offers them. */
export function withListFilterOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option("to", single("Only messages to this address or @domain"))
    .option("from", single("Only messages from this address or @domain"))
    .option("subject", single("Only subjects containing this (case-insensitive)"))
    .option("q", single("Full text: subject, addresses and body contain every word (as a prefix)"))
    .option("since", single("Only messages after this message id, or received at or after this ISO time"))
    .option(
      "search",
      single('Search terms, e.g. "is:unread from:@shop.test -has:attachment" (README: Search)'),
    );
}

export function listFilter(argv: Args): MessageFilter {
  const [to] = addressPatterns("to", textFlag(argv, "to"));
  const [from] = addressPatterns("from", textFlag(argv, "from"));
  return givenOnly({
    to,
    from,
    subject: textFlag(argv, "subject"),
    q: textFlag(argv, "q"),
    since: textFlag(argv, "since"),
    search: textFlag(argv, "search"),
  });
}

/** The filter without its absent keys: the client refuses a filter key whose value is undefined. */
export function givenOnly<T extends object>(filter: T): Partial<T> {
  return Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)) as Partial<T>;
}
