// Everything a port-25 operation needs, built once per command from the
// validated config and the environment: the NSG client (signed in), who we
// are (user@host), the priority range, source prefixes and retry policy.
import { hostname, userInfo } from "node:os";
import { requireKeys, type TunConfig } from "../config/config.js";
import { EXIT_UNREACHABLE, UserError } from "../errors.js";
import { ArmError, NsgClient } from "./arm-client.js";
import { resolveCredential } from "./credentials.js";
import type { LeaseContext } from "./lease.js";
import { resolveArmSettings, type ArmSettings } from "./settings.js";

export interface ContextOptions {
  log: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Extra CA for in-process callers (tests); child processes use NODE_EXTRA_CA_CERTS. */
  caPem?: string;
  /** Overrides the owner (user@host) recorded in new leases. */
  owner?: string;
}

export interface GateContext {
  lease: LeaseContext;
  settings: ArmSettings;
  ttlMs: number;
}

/** user@host of this process; falls back to $USER where the passwd entry is missing (containers). */
export function localOwner(env: NodeJS.ProcessEnv = process.env): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = env.USER || env.LOGNAME || "unknown";
  }
  return `${user}@${hostname()}`;
}

export async function createGateContext(config: TunConfig, opts: ContextOptions): Promise<GateContext> {
  requireKeys(config, ["azure.subscriptionId", "azure.resourceGroup", "azure.nsg"]);
  const env = opts.env ?? process.env;
  const settings = resolveArmSettings(env);
  const credential = await resolveCredential(settings.accessToken);
  const client = await NsgClient.create(
    {
      subscriptionId: config.azure.subscriptionId!,
      resourceGroup: config.azure.resourceGroup!,
      nsg: config.azure.nsg!,
    },
    {
      endpoint: settings.endpoint,
      credential,
      pollIntervalMs: settings.timings.pollIntervalMs,
      sdkRetryDelayMs: settings.timings.retryBaseMs,
      callTimeoutMs: settings.timings.callTimeoutMs,
      ...(opts.caPem ? { caPem: opts.caPem } : {}),
    },
  );
  return {
    settings,
    ttlMs: config.azure.leaseTtlMs,
    lease: {
      client,
      owner: opts.owner ?? localOwner(env),
      priorityRange: config.azure.priorityRange,
      sourcePrefixes: config.azure.sourcePrefixes,
      retry: {
        attempts: settings.timings.retryAttempts,
        baseMs: settings.timings.retryBaseMs,
        maxMs: settings.timings.retryMaxMs,
      },
      log: opts.log,
    },
  };
}

/** ArmError → one-line UserError; anything else passes through untouched (it is a bug). */
export function toUserError(err: unknown, prefix?: string): unknown {
  if (!(err instanceof ArmError)) return err;
  const code = err.kind === "unreachable" ? EXIT_UNREACHABLE : undefined;
  return new UserError(prefix ? `${prefix}: ${err.message}` : err.message, code);
}
