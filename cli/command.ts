// The shape every command module exports. main.ts imports a command's module
// only when that command runs, so `tun --help` stays fast.
import type { Argv, ArgumentsCamelCase } from "yargs";

export interface CommandModule {
  /** yargs command string, e.g. "watch" or "up <name> <port>". */
  command: string;
  describe: string;
  builder: (yargs: Argv) => Argv;
  handler: (argv: ArgumentsCamelCase<Record<string, unknown>>) => Promise<void> | void;
}
