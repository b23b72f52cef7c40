// What `tun watch` and `tun mail` share about talking to a sink: the --sink
// option, and turning client-library errors into one-line user errors.
import type { Argv } from "yargs";
import { SinkApiError, SinkTimeoutError, SinkUnreachableError } from "@tunmail/client";
import { printable } from "../../protocol/printable.js";
import { DEFAULT_SINK_URL, SINK_URL_ENV } from "../../protocol/wire.js";
import { EXIT_FAILURE, EXIT_UNREACHABLE, EXIT_USAGE, UsageError, UserError } from "../errors.js";
import { describeWithDefault } from "../help-text.js";

export function withSinkOption<T>(y: Argv<T>): Argv<T & { sink: string | undefined }> {
  // No yargs default: sinkUrl() must tell "not given" from "given", to fall back to the environment.
  return y.option("sink", {
    type: "string",
    describe: describeWithDefault("Sink HTTP API URL", `$${SINK_URL_ENV}, else ${DEFAULT_SINK_URL}`),
    requiresArg: true,
  }) as Argv<T & { sink: string | undefined }>;
}

/**
 * The sink every client command talks to: --sink, else $TUN_SINK_URL, else
 * DEFAULT_SINK_URL. Validated once, so a typo is a usage error naming where
 * the value came from, not "cannot reach".
 */
export function sinkUrl(value: unknown, env: NodeJS.ProcessEnv = process.env): string {
  const fromFlag = value !== undefined;
  const envValue = env[SINK_URL_ENV]?.trim();
  const s = fromFlag ? String(value).trim() : envValue || DEFAULT_SINK_URL;
  let url: URL | null = null;
  try {
    url = new URL(s);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) {
    const source = fromFlag ? "--sink" : SINK_URL_ENV;
    throw new UsageError(
      `${source}: expected an http:// URL like ${DEFAULT_SINK_URL}, got "${printable(s)}"`,
    );
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
        `--${flag}: expected an address (qa@example.test) or a domain (@example.test), got "${printable(p)}"`,
      );
    }
  }
  return list;
}

/** Maps what the client library throws to what the CLI prints; other errors pass through as bugs. */
export function asUserError(err: unknown, what?: { id?: string }): unknown {
  // Messages can quote what the sink or the user sent (filters, ids): printable, like any mail text.
  if (err instanceof SinkUnreachableError) return new UserError(printable(err.message), EXIT_UNREACHABLE);
  if (err instanceof SinkTimeoutError) return new UserError(printable(err.message), EXIT_FAILURE);
  if (err instanceof SinkApiError) {
    if (err.code === "not_found" && what?.id) {
      return new UserError(
        `no message with id ${printable(what.id)} in the sink (see tun mail ls)`,
        EXIT_FAILURE,
      );
    }
    // A rejected query comes from a flag value the user gave (e.g. a malformed --since).
    const exitCode = err.code === "bad_request" ? EXIT_USAGE : EXIT_FAILURE;
    return new UserError(`the sink refused the request: ${printable(err.message)} (${err.code})`, exitCode);
  }
  return err;
}
