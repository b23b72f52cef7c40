// The port-25 gate as the tunnel sees it: open a lease after the chain is
// proven, keep it renewed in the background, close it on teardown. The Azure
// SDK is imported lazily inside these functions so commands that never touch
// Azure start fast.
//
// Environment (besides the azure.* config keys): TUN_AZURE_ENDPOINT (Resource
// Manager URL, default https://management.azure.com), TUN_AZURE_ACCESS_TOKEN
// (bearer token instead of DefaultAzureCredential), and the tuning knobs
// TUN_AZURE_RENEW_INTERVAL / TUN_AZURE_POLL_INTERVAL / TUN_AZURE_RETRY_BASE.
import type { TunConfig } from "../config/config.js";
import { UserError } from "../errors.js";
import { createGateContext, toUserError } from "./context.js";
import { HeldLease } from "./held-lease.js";
import { sweepLeases } from "./lease.js";

export interface Port25Lease {
  /** e.g. "k3x9…"; the NSG rule is tun-smtp-<leaseId>. */
  readonly leaseId: string;
  /** Stops renewal and deletes the rule; idempotent, never throws for an already-absent rule. */
  close(): Promise<void>;
}

export interface GateOptions {
  /** Tunnel name recorded in the rule description. */
  tunnel: string;
  /** One human line per notable event (opened, renewal failed once, closed); lines start with "[port25]". */
  log: (line: string) => void;
}

/** Renew at least three times per TTL so one or two failed renewals never let a live lease expire. */
const RENEWALS_PER_TTL = 3;

/**
 * Opens a lease rule and renews it until `close()`. Throws UserError with one clear line on failure
 * (sign-in, missing NSG/resource group, no free priority, Azure unreachable).
 *
 * Before opening it sweeps expired leases (best effort; failures are logged, not thrown), which is the
 * "sweep at every CLI start" of issue 5 for `tun up`. Renewal failures never throw: they are logged once
 * per outage and retried. `close()` may throw a UserError if the DELETE keeps failing; the rule then
 * expires on its own and the next sweep removes it, so callers should log it and carry on tearing down.
 */
export async function openPort25Lease(config: TunConfig, opts: GateOptions): Promise<Port25Lease> {
  try {
    const gate = await createGateContext(config, { log: opts.log });
    const ctx = gate.lease;
    // Sweeping here is the "sweep at every start" for tunnels; its listing also picks our priority.
    const { rules } = await sweepLeases(ctx);
    const lease = await HeldLease.open(
      ctx,
      {
        tunnel: opts.tunnel,
        ttlMs: gate.ttlMs,
        renewIntervalMs: Math.min(gate.settings.timings.renewIntervalMs, gate.ttlMs / RENEWALS_PER_TTL),
      },
      rules,
    );
    opts.log(
      `[port25] port 25 open: lease ${lease.rule} in ${config.azure.nsg} (expires ${lease.expiresAt.toISOString().replace(/\.\d{3}Z$/, "Z")}, renewed while the tunnel runs)`,
    );
    return {
      leaseId: lease.leaseId,
      close: async () => {
        try {
          await lease.close();
        } catch (err) {
          const e = toUserError(err);
          throw e instanceof UserError
            ? new UserError(
                `could not close port-25 lease ${lease.rule} (${e.message}); it expires by itself and the next sweep removes it`,
                e.exitCode,
              )
            : e;
        }
      },
    };
  } catch (err) {
    throw toUserError(err, "could not open the port-25 gate");
  }
}

/** Deletes every expired tun-smtp-* rule; returns how many were removed. Failures on single rules are logged. */
export async function sweepExpiredLeases(
  config: TunConfig,
  opts: { log: (line: string) => void },
): Promise<number> {
  try {
    const gate = await createGateContext(config, { log: opts.log });
    const result = await sweepLeases(gate.lease);
    return result.removed.length;
  } catch (err) {
    throw toUserError(err, "could not sweep port-25 leases");
  }
}
