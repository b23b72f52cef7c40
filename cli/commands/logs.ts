// `tun logs`: the VM sink's journal (journalctl -u smtpsink) over SSH.
import { requireKeys } from "../config/config.js";
import type { CommandModule } from "../command.js";
import { EXIT_FAILURE, EXIT_INTERRUPTED, UsageError, UserError } from "../errors.js";
import { configFromArgv, withConfigOptions } from "../config/options.js";
import { connectSsh, loadCredentials } from "../tunnel/ssh-connect.js";
import { linkTunables } from "../tunnel/tunables.js";

/** The sink's systemd unit on the VM (see the deployment files). */
export const SINK_UNIT = "smtpsink";

/** Quotes one word for the remote POSIX shell sshd runs the command with. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function journalCommand(opts: { follow: boolean; lines?: number; since?: string }): string {
  const args = ["journalctl", "-u", SINK_UNIT, "--no-pager"];
  if (opts.follow) args.push("-f");
  if (opts.lines !== undefined) args.push("-n", String(opts.lines));
  if (opts.since !== undefined) args.push("--since", opts.since);
  return args.map(shellWord).join(" ");
}

const command: CommandModule = {
  command: "logs",
  describe: "Show the VM sink's journal (journalctl -u smtpsink)",
  builder: (y) =>
    withConfigOptions(
      y
        .option("follow", {
          alias: "f",
          type: "boolean",
          default: false,
          describe: "Keep printing new entries",
        })
        .option("lines", {
          alias: "n",
          type: "number",
          requiresArg: true,
          describe: "Show the last LINES entries",
        })
        .option("since", {
          type: "string",
          requiresArg: true,
          describe: 'Entries since TIME (journalctl syntax: "1 hour ago", "2026-11-22 10:00")',
        }),
      { azure: false, keys: ["host", "sshPort", "user", "identityFile", "knownHosts"] },
    ),
  handler: async (argv) => {
    const lines = argv.lines === undefined ? undefined : Number(argv.lines);
    if (lines !== undefined && (!Number.isInteger(lines) || lines < 0)) {
      throw new UsageError(`--lines: expected a whole number, got "${String(argv.lines)}"`);
    }
    const since = argv.since === undefined ? undefined : String(argv.since);
    const config = configFromArgv(argv as Record<string, unknown>);
    requireKeys(config, ["host", "user"]);
    const target = {
      host: config.host!,
      port: config.sshPort,
      user: config.user!,
      identityFile: config.identityFile,
      knownHosts: config.knownHosts,
    };
    const client = await connectSsh(target, await loadCredentials(target), linkTunables());
    const remoteCommand = journalCommand({ follow: argv.follow === true, lines, since });

    const code = await new Promise<number>((resolve, reject) => {
      client.exec(remoteCommand, (err, channel) => {
        if (err) return reject(new UserError(`cannot run journalctl on ${target.host}: ${err.message}`));
        let interrupted = false;
        const onSigint = (): void => {
          interrupted = true;
          channel.close();
        };
        process.once("SIGINT", onSigint);
        process.once("SIGTERM", onSigint);
        channel.pipe(process.stdout, { end: false });
        channel.stderr.pipe(process.stderr, { end: false });
        let exitCode: number | null = null;
        channel.on("exit", (c: number | null) => (exitCode = c));
        channel.once("close", () => {
          process.off("SIGINT", onSigint);
          process.off("SIGTERM", onSigint);
          resolve(interrupted ? EXIT_INTERRUPTED : (exitCode ?? 0));
        });
      });
    }).finally(() => client.end());

    if (code === EXIT_INTERRUPTED) {
      process.exitCode = EXIT_INTERRUPTED;
      return;
    }
    if (code !== 0) {
      throw new UserError(
        `journalctl on ${target.host} exited with status ${code} (output above)`,
        EXIT_FAILURE,
      );
    }
  },
};
export default command;
