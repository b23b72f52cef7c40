// The delivery flags shared by `tun up` and `tun watch`, read and validated
// once into DeliverySettings.
import type { Argv } from "yargs";
import { parseDurationMs } from "../../protocol/values.js";
import { UsageError } from "../errors.js";
import { FORMAT_NAMES, isFormatName, type FormatName } from "./payload.js";
import { deliveryTarget, type DeliveryTarget } from "./target.js";
import { DEFAULT_RETRY_FOR_MS, deliveryTimings, type DeliveryTimings } from "./timings.js";

export const SIGNING_KEY_ENV = "TUN_DELIVER_SIGNING_KEY";

export interface DeliverySettings {
  target: DeliveryTarget;
  format: FormatName;
  signingKey: string | undefined;
  retryForMs: number;
  timings: DeliveryTimings;
}

export function withDeliverOptions<T>(y: Argv<T>, o: { pathHint: string }): Argv<T> {
  return y
    .option("deliver", {
      type: "string",
      requiresArg: true,
      describe: `POST each message to your app: ${o.pathHint}`,
    })
    .option("format", {
      type: "string",
      requiresArg: true,
      describe: `Payload for --deliver: ${FORMAT_NAMES.join(", ")} (default raw)`,
    })
    .option("deliver-retry-for", {
      type: "string",
      requiresArg: true,
      describe: "Retry a message this long before giving up (default 10m)",
    })
    .option("deliver-remote", {
      type: "boolean",
      default: false,
      describe: "Allow a --deliver URL that is not on this machine",
    })
    .option("signing-key", {
      type: "string",
      requiresArg: true,
      describe: `Mailgun webhook signing key for --format mailgun [env ${SIGNING_KEY_ENV}]`,
    })
    .group(
      ["deliver", "format", "deliver-retry-for", "deliver-remote", "signing-key"],
      "Delivery to your app (docs/inbound.md):",
    ) as Argv<T>;
}

/** Null when --deliver is absent; a UsageError for any inconsistent flag. */
export function deliverySettings(
  argv: Record<string, unknown>,
  o: { localPort?: number; env?: NodeJS.ProcessEnv },
): DeliverySettings | null {
  const env = o.env ?? process.env;
  const given = (flag: string): boolean => argv[flag] !== undefined;
  if (argv.deliver === undefined) {
    for (const flag of ["format", "deliver-retry-for", "signing-key"]) {
      if (given(flag)) throw new UsageError(`--${flag} applies to --deliver; add --deliver PATH or URL`);
    }
    return null;
  }
  const target = deliveryTarget(String(argv.deliver), {
    flag: "--deliver",
    localPort: o.localPort,
    allowRemote: argv["deliver-remote"] === true,
  });
  return {
    target,
    format: formatArg(argv.format),
    signingKey: signingKeyArg(argv["signing-key"], env),
    retryForMs: retryForArg(argv["deliver-retry-for"]),
    timings: deliveryTimings(env),
  };
}

export function formatArg(value: unknown): FormatName {
  if (value === undefined) return "raw";
  const name = String(value).trim().toLowerCase();
  if (!isFormatName(name)) {
    throw new UsageError(`--format: expected one of ${FORMAT_NAMES.join(", ")}, got "${String(value)}"`);
  }
  return name;
}

export function signingKeyArg(value: unknown, env: NodeJS.ProcessEnv): string | undefined {
  const key = value === undefined ? env[SIGNING_KEY_ENV] : String(value);
  if (key === undefined || key === "") return undefined;
  return key;
}

function retryForArg(value: unknown): number {
  if (value === undefined) return DEFAULT_RETRY_FOR_MS;
  const ms = parseDurationMs(String(value));
  if (ms === null || ms <= 0) {
    throw new UsageError(
      `--deliver-retry-for: expected a duration like 90s, 10m or 1h, got "${String(value)}"`,
    );
  }
  return ms;
}
