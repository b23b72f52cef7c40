// The checks `tun up` runs before it makes anything public: config, local
// app, SSH hop by hop, forwarding permission, Caddy's admin API and tunnel
// server, the VM's sink. The first failure becomes one UserError line naming
// the check and its fix; nothing has been added to Caddy or Azure by then.
import type { TunConfig } from "../config/config.js";
import { EXIT_UNREACHABLE, EXIT_USAGE, UserError } from "../errors.js";
import type { SshClient } from "../tunnel/ssh-connect.js";
import { pass, runChecks, type Check, type CheckResult } from "./check.js";
import { PREFLIGHT_CHECKS } from "./checks.js";
import { closeContext, doctorContext, type DoctorContext } from "./context.js";

export interface PreflightOptions {
  /** Tunnel names (the first is used where one name is needed). */
  names: string[];
  localPorts: number[];
  env?: NodeJS.ProcessEnv;
  /**
   * The tunnel's own SSH connection, once it is up: the checks ride on it
   * instead of logging in a second time (its connect already checked the SSH
   * port, the host key and the login). It is not closed here.
   */
  client?: SshClient;
}

/** Stands in for the SSH checks when the caller's connection is already up. */
const CONNECTED: Check<DoctorContext> = {
  id: "ssh.auth",
  what: (c) => `SSH login as ${c.target.user}@${c.target.host}:${c.target.port}`,
  run: async () => pass("connected"),
};
const SSH_CONNECT_IDS = new Set(["ssh.reach", "ssh.hostkey", "ssh.auth"]);

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
  const checks = opts.client
    ? PREFLIGHT_CHECKS.flatMap((c) =>
        c.id === "ssh.auth" ? [CONNECTED] : SSH_CONNECT_IDS.has(c.id) ? [] : [c],
      )
    : PREFLIGHT_CHECKS;
  if (opts.client) ctx.client = opts.client;
  try {
    const results = await runChecks(checks, ctx);
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
    if (opts.client) ctx.client = null; // the caller's: closeContext must not end it
    await closeContext(ctx);
  }
}
