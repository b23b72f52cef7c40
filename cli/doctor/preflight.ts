// The checks `tun up` runs before it makes anything public: config, local
// app, SSH hop by hop, forwarding permission, Caddy's admin API and tunnel
// server, the VM's sink. The first failure becomes one UserError line naming
// the check and its fix; nothing has been added to Caddy or Azure by then.
import type { TunConfig } from "../config/config.js";
import { EXIT_UNREACHABLE, EXIT_USAGE, UserError } from "../errors.js";
import { runChecks, type CheckResult } from "./check.js";
import { PREFLIGHT_CHECKS } from "./checks.js";
import { closeContext, doctorContext } from "./context.js";

export interface PreflightOptions {
  /** Tunnel names (the first is used where one name is needed). */
  names: string[];
  localPorts: number[];
  env?: NodeJS.ProcessEnv;
}

/** Exit code for a failed check: config 2, an unreachable SSH port 3, anything else 1. */
export function exitCodeFor(r: CheckResult): number {
  if (r.id === "config") return EXIT_USAGE;
  if (r.id === "ssh.reach") return EXIT_UNREACHABLE;
  return 1;
}

/** Resolves with every result when all pass; throws a one-line UserError for the first failure. */
export async function preflight(config: TunConfig, opts: PreflightOptions): Promise<CheckResult[]> {
  const ctx = doctorContext(config, {
    name: opts.names[0] ?? "",
    localPorts: opts.localPorts,
    env: opts.env,
  });
  try {
    const results = await runChecks(PREFLIGHT_CHECKS, ctx);
    const failed = results.find((r) => r.status === "fail");
    if (failed?.exitCode !== undefined) throw new UserError(failed.detail, failed.exitCode);
    if (failed) {
      throw new UserError(
        `preflight check failed: ${failed.what}: ${failed.detail}; fix: ${failed.fix ?? "see tun doctor"}`,
        exitCodeFor(failed),
      );
    }
    return results;
  } finally {
    await closeContext(ctx);
  }
}
