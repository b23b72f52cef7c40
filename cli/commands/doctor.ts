// `tun doctor [name]`: checks every hop a tunnel needs and prints one line per
// check (✓ or ✗, what, and for ✗ the fix); --json prints the same as data.
// Exit 0 only when every check passes (skipped ones do not count against it);
// 2 when the config itself cannot be loaded, 1 for any other failure.
import type { CommandModule } from "../command.js";
import { configFromArgv, withConfigOptions } from "../config/options.js";
import { EXIT_FAILURE, EXIT_USAGE, UsageError, UserError } from "../errors.js";
import { isDnsLabel } from "../tunnel/route.js";
import { formatResult, runChecks, type CheckResult } from "../doctor/check.js";
import { DOCTOR_CHECKS } from "../doctor/checks.js";
import { closeContext, doctorContext } from "../doctor/context.js";
import { parseHostPort } from "../../protocol/values.js";

/** The name whose MX record is checked when none is given (any name works with wildcard records). */
const DEFAULT_NAME = "doctor-check";

function print(json: boolean, results: CheckResult[]): void {
  if (json) {
    const ok = results.every((r) => r.status !== "fail");
    process.stdout.write(JSON.stringify({ ok, checks: results }) + "\n");
  }
}

const command: CommandModule = {
  command: "doctor [name]",
  describe: "Check every hop a tunnel needs (config, DNS, SSH, Caddy, sink, Azure, clock)",
  builder: (y) =>
    withConfigOptions(
      y
        .positional("name", {
          type: "string",
          describe: `Tunnel name whose MX record to check (default ${DEFAULT_NAME})`,
        })
        .option("json", { type: "boolean", default: false, describe: "One JSON object instead of lines" })
        .option("resolver", {
          type: "string",
          requiresArg: true,
          describe: "DNS server IP:PORT to ask instead of the system's resolvers",
        })
        .example("$0 doctor", "every check, one line each")
        .example("$0 doctor api --json", "the same as data, checking MX for api.<domain>"),
      { azure: true },
    ),
  handler: async (argv) => {
    const json = argv.json === true;
    const name = String(argv.name ?? DEFAULT_NAME).toLowerCase();
    if (!isDnsLabel(name)) {
      throw new UsageError(
        `"${name}" is not a DNS label: use letters, digits and inner hyphens, at most 63 characters`,
      );
    }
    const resolver = argv.resolver === undefined ? null : String(argv.resolver);
    if (resolver !== null && !parseHostPort(resolver)) {
      throw new UsageError(`--resolver "${resolver}" must be IP:PORT, e.g. 127.0.0.1:5353`);
    }
    let config;
    try {
      config = configFromArgv(argv as Record<string, unknown>);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      const r: CheckResult = {
        id: "config",
        status: "fail",
        what: "config",
        detail: err.message,
        fix: "see the message",
      };
      if (json) print(true, [r]);
      else process.stdout.write(formatResult(r) + "\n");
      process.exitCode = EXIT_USAGE;
      return;
    }
    const ctx = doctorContext(config, { name, resolver });
    let results: CheckResult[];
    try {
      results = await runChecks(DOCTOR_CHECKS, ctx, (r) => {
        if (!json) process.stdout.write(formatResult(r) + "\n");
      });
    } finally {
      await closeContext(ctx);
    }
    print(json, results);
    const failed = results.filter((r) => r.status === "fail");
    if (failed.length > 0) {
      process.exitCode = failed.some((r) => r.id === "config") ? EXIT_USAGE : EXIT_FAILURE;
    }
  },
};
export default command;
