// `tun up <name> <port>` (and `tun <name> <port>`): serve a local port at
// https://<name>.<domain> through the VM and stream the mail sent to it.
// This module owns the process-level lifecycle: signals, exit codes, and the
// guarantee that everything the session holds is released on every exit path.
import type { CommandModule } from "../command.js";
import { requireKeys } from "../config/config.js";
import { EXIT_FAILURE, EXIT_INTERRUPTED, UsageError } from "../errors.js";
import { useColor } from "../watch/color.js";
import { configFromArgv, withConfigOptions } from "../config/options.js";
import { preflight } from "../doctor/preflight.js";
import { isDnsLabel } from "../tunnel/route.js";
import { TunnelSession } from "../tunnel/session.js";
import { UiProxy } from "../tunnel/ui-proxy.js";
import type { TunConfig } from "../config/config.js";
import { parseHostPort, type HostPort } from "../../protocol/values.js";
import { linkTunables } from "../tunnel/tunables.js";

const EXIT_INTERNAL = 70;
const UI_DEFAULT_LISTEN = "127.0.0.1:0";
/** 128 + signal number, as shells report it. */
const EXIT_BY_SIGNAL: Record<string, number> = { SIGINT: EXIT_INTERRUPTED, SIGTERM: 143, SIGHUP: 129 };

/** Starts the mail UI proxy and prints its URL, filtered to the tunnel's mail, next to the public URL. */
async function startMailUi(
  session: TunnelSession,
  listen: HostPort,
  config: TunConfig,
  name: string,
  log: (line: string) => void,
): Promise<UiProxy> {
  const ui = new UiProxy({
    listen,
    sink: parseHostPort(config.sink)!,
    currentClient: () => session.currentClient,
    user: config.user!,
  });
  await ui.start();
  log(`[tunnel] mail UI: ${ui.url}?search=to:@${name}.${config.domain!}`);
  return ui;
}

const command: CommandModule = {
  command: "up <name> <port>",
  describe: "Serve a local port at https://<name>.<domain> and stream its mail",
  builder: (y) =>
    withConfigOptions(
      y
        .positional("name", { type: "string", describe: "Subdomain (a DNS label), e.g. api" })
        .positional("port", { type: "number", describe: "Local port of your app, e.g. 3000" })
        .option("json", { type: "boolean", default: false, describe: "Print mail as NDJSON" })
        .option("ui", {
          type: "string",
          default: UI_DEFAULT_LISTEN,
          describe: "Serve the VM sink's mail UI here (HOST:PORT, port 0: a free one; --no-ui: off)",
        })
        .option("port25", {
          type: "boolean",
          default: true,
          describe: "Open port 25 on the VM while the tunnel is up (--no-port25 to skip)",
        })
        .example("$0 up api 3000", "https://api.<domain> -> localhost:3000")
        .example("$0 api 3000", "the same, shorter"),
      { azure: true },
    ),
  handler: async (argv) => {
    const name = String(argv.name ?? "").toLowerCase();
    if (!isDnsLabel(name)) {
      throw new UsageError(
        `"${String(argv.name)}" is not a DNS label: use letters, digits and inner hyphens, at most 63 characters`,
      );
    }
    const port = Number(argv.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new UsageError(`port must be a whole number from 1 to 65535, got "${String(argv.port)}"`);
    }
    const uiListen = argv.ui === false ? null : parseHostPort(String(argv.ui ?? UI_DEFAULT_LISTEN));
    if (argv.ui !== false && !uiListen) {
      throw new UsageError(`--ui "${String(argv.ui)}" must be HOST:PORT, e.g. 127.0.0.1:8026 (or --no-ui)`);
    }
    const config = configFromArgv(argv as Record<string, unknown>);
    requireKeys(config, ["host", "user", "domain"]);
    const json = argv.json === true;
    const log = (line: string): void => void process.stderr.write(line + "\n");

    let ui: UiProxy | null = null;
    let exiting = false;
    const finish = async (code: number, message?: string, signal?: string): Promise<never> => {
      if (exiting) {
        // A second Ctrl-C (or another fatal event) during cleanup: leave now.
        if (message) log(message);
        process.exit(code);
      }
      exiting = true;
      if (message) log(message);
      if (signal) log(`[tunnel] ${signal}: cleaning up (Ctrl-C again to quit at once)`);
      await ui?.close();
      await session.teardown();
      log("[tunnel] closed");
      process.exit(code);
    };

    const session = new TunnelSession({
      config,
      name,
      localPort: port,
      json,
      color: !json && useColor(process.stdout),
      noPort25: argv.port25 === false,
      tunables: linkTunables(),
      log,
      out: process.stdout,
      onFatal: (err) => void finish(EXIT_FAILURE, `tun: ${err.message}`),
    });

    for (const signal of Object.keys(EXIT_BY_SIGNAL)) {
      process.on(signal, () => void finish(EXIT_BY_SIGNAL[signal]!, undefined, signal));
    }
    process.on("uncaughtException", (err) => {
      void finish(
        EXIT_INTERNAL,
        `tun: internal error (a bug; please report it):\n${err.stack ?? String(err)}`,
      );
    });
    process.on("unhandledRejection", (err) => {
      void finish(
        EXIT_INTERNAL,
        `tun: internal error (a bug; please report it):\n${(err as Error)?.stack ?? String(err)}`,
      );
    });
    // `tun up … | head` closing our stdout must not crash mid-stream.
    process.stdout.on("error", () => void finish(EXIT_FAILURE));

    try {
      // Before anything becomes public: each hop, named when it fails (see cli/doctor/preflight.ts).
      await preflight(config, { names: [name], localPorts: [port] });
      await session.start();
      if (uiListen) ui = await startMailUi(session, uiListen, config, name, log);
    } catch (err) {
      if (exiting) return new Promise<void>(() => {});
      exiting = true;
      await ui?.close();
      await session.teardown();
      throw err;
    }
    // Runs until a signal or a fatal error calls finish().
    return new Promise<void>(() => {});
  },
};
export default command;
