// The port-25 gate as the tunnel sees it: open a lease after the chain is
// proven, keep it renewed in the background, close it on teardown. The Azure
// SDK is imported lazily inside these functions so commands that never touch
// Azure start fast.
import type { TunConfig } from "../config/config.js";

export interface Port25Lease {
  /** e.g. "k3x9…"; the NSG rule is tun-smtp-<leaseId>. */
  readonly leaseId: string;
  /** Stops renewal and deletes the rule; idempotent, never throws for an already-absent rule. */
  close(): Promise<void>;
}

export interface GateOptions {
  /** Tunnel name recorded in the rule description. */
  tunnel: string;
  /** One human line per notable event (opened, renewal failed once, closed). */
  log: (line: string) => void;
}

/** Opens a lease rule and renews it until `close()`. Throws UserError with one clear line on failure. */
export async function openPort25Lease(_config: TunConfig, _opts: GateOptions): Promise<Port25Lease> {
  throw new Error("openPort25Lease: not implemented yet");
}

/** Deletes every expired tun-smtp-* rule; returns how many were removed. */
export async function sweepExpiredLeases(
  _config: TunConfig,
  _opts: { log: (line: string) => void },
): Promise<number> {
  throw new Error("sweepExpiredLeases: not implemented yet");
}
