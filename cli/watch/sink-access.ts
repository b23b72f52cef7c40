// What `tun watch` and `tun mail` share about talking to a sink: the --sink
// option, and turning client-library errors into one-line user errors.
import type { Argv } from "yargs";
import { SinkApiError, SinkTimeoutError, SinkUnreachableError } from "@tunmail/client";
import { DEFAULT_SINK_URL } from "../../protocol/wire.js";
import { EXIT_FAILURE, EXIT_UNREACHABLE, EXIT_USAGE, UsageError, UserError } from "../errors.js";

export function withSinkOption<T>(y: Argv<T>): Argv<T & { sink: string }> {
  return y.option("sink", {
    type: "string",
    default: DEFAULT_SINK_URL,
    describe: "Sink HTTP API URL",
    requiresArg: true,
  }) as Argv<T & { sink: string }>;
}

/** Validates --sink once, so a typo is a usage error and not "cannot reach". */
export function sinkUrl(value: unknown): string {
  const s = String(value ?? "").trim();
  let url: URL | null = null;
  try {
    url = new URL(s);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) {
    throw new UsageError(`--sink: expected an http:// URL like ${DEFAULT_SINK_URL}, got "${s}"`);
  }
  return s;
}

/** Address or @domain patterns from a repeatable flag. */
export function addressPatterns(flag: string, value: unknown): string[] {
  const list = (Array.isArray(value) ? value : value === undefined ? [] : [value]).map((v) =>
    String(v).trim(),
  );
  for (const p of list) {
    if (!/^[^\s@]*@[^\s@]+$/.test(p)) {
      throw new UsageError(
        `--${flag}: expected an address (qa@example.test) or a domain (@example.test), got "${p}"`,
      );
    }
  }
  return list;
}

/** Maps what the client library throws to what the CLI prints; other errors pass through as bugs. */
export function asUserError(err: unknown, what?: { id?: string }): unknown {
  if (err instanceof SinkUnreachableError) return new UserError(err.message, EXIT_UNREACHABLE);
  if (err instanceof SinkTimeoutError) return new UserError(err.message, EXIT_FAILURE);
  if (err instanceof SinkApiError) {
    if (err.code === "not_found" && what?.id) {
      return new UserError(`no message with id ${what.id} in the sink (see tun mail ls)`, EXIT_FAILURE);
    }
    // A rejected query comes from a flag value the user gave (e.g. a malformed --since).
    const exitCode = err.code === "bad_request" ? EXIT_USAGE : EXIT_FAILURE;
    return new UserError(`the sink refused the request: ${err.message} (${err.code})`, exitCode);
  }
  return err;
}
