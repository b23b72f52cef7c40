#!/usr/bin/env node
// Entry point of the `tun` CLI: a command table whose modules load lazily, and
// one top-level catch that separates user errors (one line, exit code) from
// bugs (stack trace).
import { createRequire } from "node:module";
import type yargsType from "yargs";
import { hideBin } from "yargs/helpers";
import type { CommandModule } from "./command.js";
import { cliVersion } from "./version.js";
import { EXIT_USAGE, isUserError } from "./errors.js";

interface Entry {
  describe: string;
  load: () => Promise<{ default: CommandModule }>;
}

const COMMANDS: Record<string, Entry> = {
  sink: { describe: "Run the SMTP sink (local by default)", load: () => import("./commands/sink.js") },
  watch: { describe: "Show captured messages as they arrive", load: () => import("./commands/watch.js") },
  mail: {
    describe: "List, show, save, wait for and delete captured messages",
    load: () => import("./commands/mail.js"),
  },
  init: { describe: "Write the tunnel configuration file", load: () => import("./commands/init.js") },
  up: {
    describe: "Serve a local port at https://<name>.<domain> and stream its mail",
    load: () => import("./commands/up.js"),
  },
  doctor: {
    describe: "Check every hop a tunnel needs (config, DNS, SSH, Caddy, sink, Azure, clock)",
    load: () => import("./commands/doctor.js"),
  },
  logs: {
    describe: "Show the VM sink's journal (journalctl -u smtpsink)",
    load: () => import("./commands/logs.js"),
  },
  port25: {
    describe: "Inspect and manage the port-25 leases in the VM's NSG",
    load: () => import("./commands/port25.js"),
  },
  janitor: {
    describe: "On the VM: remove dead tunnel routes and expired port-25 leases",
    load: () => import("./commands/janitor.js"),
  },
};

/** `tun api 3000` is shorthand for `tun up api 3000`. */
function expandShorthand(args: string[]): string[] {
  const [first, second] = args;
  if (first && !first.startsWith("-") && !(first in COMMANDS) && second && /^\d+$/.test(second)) {
    return ["up", ...args];
  }
  return args;
}

async function main(): Promise<void> {
  const args = expandShorthand(hideBin(process.argv));
  const name = args.find((a) => !a.startsWith("-"));
  const cli = yargs(args)
    .scriptName("tun")
    .usage("$0 <command> [options]\n\nShorthand: tun <name> <port>  (same as tun up <name> <port>)")
    .strict()
    .demandCommand(1, "Name a command; see tun --help.")
    .recommendCommands()
    .help()
    .alias("h", "help")
    .version(cliVersion())
    .wrap(helpColumns())
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageErrorFromYargs(msg);
    });

  for (const [cmd, entry] of Object.entries(COMMANDS)) {
    if (cmd === name) {
      const mod = (await entry.load()).default;
      cli.command(mod.command, mod.describe, mod.builder, mod.handler);
    } else {
      cli.command(cmd, entry.describe);
    }
  }
  await cli.parseAsync();
}

class UsageErrorFromYargs extends Error {}

// yargs' ESM build lays out help with cliui's ESM entry, whose wrap cuts every
// N characters, mid-word ("<p" / "ort>"). Its CommonJS build wraps at word
// boundaries (wrap-ansi), so the CLI loads that one.
const yargs = createRequire(import.meta.url)("yargs") as typeof yargsType;

/** Help width in a pipe or a file, where there is no terminal to measure. */
export const HELP_COLUMNS_WITHOUT_TERMINAL = 100;

/** The terminal's width, or HELP_COLUMNS_WITHOUT_TERMINAL when stdout is not one. */
function helpColumns(): number {
  return process.stdout.isTTY && process.stdout.columns
    ? process.stdout.columns
    : HELP_COLUMNS_WITHOUT_TERMINAL;
}

main().catch((err: unknown) => {
  if (err instanceof UsageErrorFromYargs) {
    process.stderr.write(`tun: ${err.message}\n`);
    process.exit(EXIT_USAGE);
  }
  if (isUserError(err)) {
    process.stderr.write(`tun: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(
    `tun: internal error (a bug; please report it):\n${(err as Error)?.stack ?? String(err)}\n`,
  );
  process.exit(70);
});
