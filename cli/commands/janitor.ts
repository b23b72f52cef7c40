// `tun janitor`: run on the VM (systemd timer, every 20 s) to remove tunnel
// routes whose client is gone, and expired port-25 leases when Azure is set up.
import { parseHostPort, parseDurationMs } from "../../protocol/values.js";
import type { CommandModule } from "../command.js";
import { azureConfigured } from "../config/config.js";
import { EXIT_UNREACHABLE, UsageError, UserError } from "../errors.js";
import { sweepExpiredLeases } from "../port25/gate.js";
import { CaddyAdmin, CaddyAdminError } from "../tunnel/caddy-admin.js";
import { configFromArgv, withConfigOptions } from "../config/options.js";
import { DEFAULT_GRACE_MS, sweepRoutes } from "../tunnel/janitor.js";
import { DEFAULT_HEARTBEAT_STALE_MS } from "../tunnel/tunables.js";

const command: CommandModule = {
  command: "janitor",
  describe: "On the VM: remove dead tunnel routes and expired port-25 leases",
  builder: (y) =>
    withConfigOptions(
      y
        .option("grace", {
          type: "string",
          default: `${DEFAULT_GRACE_MS / 1000}s`,
          describe:
            "Remove a route without heartbeats once its upstream port has refused connections this long",
          requiresArg: true,
        })
        .option("stale", {
          type: "string",
          default: `${DEFAULT_HEARTBEAT_STALE_MS / 1000}s`,
          describe: "Remove a route whose holder's heartbeat is older than this",
          requiresArg: true,
        }),
      { azure: true, keys: ["caddyAdmin", "caddyServer"] },
    ),
  handler: async (argv) => {
    const graceMs = parseDurationMs(String(argv.grace));
    if (graceMs === null)
      throw new UsageError(`--grace: expected a duration like 60s or 2m, got "${String(argv.grace)}"`);
    const staleMs = parseDurationMs(String(argv.stale));
    if (staleMs === null)
      throw new UsageError(`--stale: expected a duration like 45s or 2m, got "${String(argv.stale)}"`);
    const config = configFromArgv(argv as Record<string, unknown>);
    const addr = parseHostPort(config.caddyAdmin)!;
    const admin = new CaddyAdmin(() => addr, config.caddyAdmin);
    const log = (line: string): void => void process.stdout.write(line + "\n");
    try {
      const r = await sweepRoutes({ admin, server: config.caddyServer, graceMs, staleMs, log });
      log(
        `[janitor] routes: ${r.removed.length} removed, ${r.marked.length} dead within grace, ${r.live.length} live`,
      );
    } catch (err) {
      if (err instanceof CaddyAdminError) throw new UserError(err.message, EXIT_UNREACHABLE);
      throw err;
    }
    if (azureConfigured(config)) {
      const n = await sweepExpiredLeases(config, {
        log: (line) => log(line.startsWith("[") ? line : `[port25] ${line}`),
      });
      log(`[janitor] port-25 leases: ${n} expired removed`);
    }
  },
};
export default command;
