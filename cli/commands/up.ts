// `tun up <name> <port>` (and `tun <name> <port>`): serve a local port at
// https://<name>.<domain> through the VM and stream the mail sent to it.
// `tun up` starts every tunnel of the config file, `tun up api web` the named
// ones, all over one SSH connection.
// This module owns the process-level lifecycle: signals, exit codes, and the
// guarantee that everything the session holds is released on every exit path.
import type { CommandModule } from "../command.js";
import { requireKeys, type TunConfig } from "../config/config.js";
import { parseBasicAuth, tunnelNameProblem, type BasicAuthCredentials } from "../config/tunnels.js";
import { EXIT_FAILURE, EXIT_INTERRUPTED, UsageError } from "../errors.js";
import { useColor } from "../watch/color.js";
import { configFromArgv, withConfigOptions } from "../config/options.js";
import { deliverySettings, withDeliverOptions, type DeliverySettings } from "../deliver/options.js";
import { TunnelSession } from "../tunnel/session.js";
import { UiProxy } from "../tunnel/ui-proxy.js";
import { parseHostPort, type HostPort } from "../../protocol/values.js";
import { linkTunables } from "../tunnel/tunables.js";
import type { TunnelSpec } from "../tunnel/tunnel.js";

const EXIT_INTERNAL = 70;
const UI_DEFAULT_LISTEN = "127.0.0.1:0";
/** 128 + signal number, as shells report it. */
const EXIT_BY_SIGNAL: Record<string, number> = { SIGINT: EXIT_INTERRUPTED, SIGTERM: 143, SIGHUP: 129 };
/** How long a second Ctrl-C still waits for the routes to be removed, ms. */
const SECOND_SIGNAL_WAIT_MS = 1_000;
/** Basic auth from the environment (keeps the password out of `ps`), below --basic-auth. */
const BASIC_AUTH_ENV = "TUN_BASIC_AUTH";

function basicAuthOverride(argv: Record<string, unknown>): BasicAuthCredentials | null {
  const flag = argv.basicAuth;
  const raw = typeof flag === "string" && flag !== "" ? flag : process.env[BASIC_AUTH_ENV];
  if (raw === undefined || raw === "") return null;
  const from = typeof flag === "string" && flag !== "" ? "--basic-auth" : BASIC_AUTH_ENV;
  const parsed = parseBasicAuth(raw);
  if (typeof parsed === "string") throw new UsageError(`${from}: ${parsed}`);
  return parsed;
}

/**
 * What to start: `NAME PORT` (a config tunnel of that name lends its other
 * settings), `NAME…` (tunnels of the config file), or nothing (all of them).
 */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function tunnelsToStart(
  args: readonly string[],
  config: TunConfig,
  basicAuth: BasicAuthCredentials | null,
): TunnelSpec[] {
  const known = Object.keys(config.tunnels);
  const named = (name: string, port?: number): TunnelSpec => {
    const problem = tunnelNameProblem(name);
    if (problem) throw new UsageError(problem);
    const entry = config.tunnels[name];
    if (!entry && port === undefined) {
      throw new UsageError(
        `no tunnel named "${name}" in ${config.file} (${known.length ? `it has ${known.join(", ")}` : "it has none"}); ` +
          `give a port too (tun up ${name} 3000) or add it under "tunnels"`,
      );
    }
    return {
      name,
      localPort: port ?? entry!.port,
      deliver: entry?.deliver ?? null,
      basicAuth: basicAuth ?? entry?.basicAuth ?? null,
    };
  };
  if (args.length === 0) {
    if (known.length === 0) {
      throw new UsageError(
        `no tunnels to start: give a name and a port (tun up api 3000), or add "tunnels" to ${config.file}, e.g. { "api": { "port": 3000 } }`,
      );
    }
    return known.map((name) => named(name));
  }
  if (args.length === 2 && /^\d+$/.test(args[1]!)) {
    const port = Number(args[1]);
    if (port < 1 || port > 65535) {
      throw new UsageError(`port must be a whole number from 1 to 65535, got "${args[1]}"`);
    }
    return [named(args[0]!.toLowerCase(), port)];
  }
  const port = args.find((a) => /^\d+$/.test(a));
  if (port !== undefined) {
    throw new UsageError(
      `"${port}" looks like a port: give one name and its port (tun up api 3000), or only names of tunnels in ${config.file}`,
    );
  }
  return [...new Set(args.map((a) => a.toLowerCase()))].map((name) => named(name));
}

/** Starts the mail UI proxy and prints its URL, filtered to the tunnel's mail, next to the public URL. */
async function startMailUi(
  session: TunnelSession,
  listen: HostPort,
  config: TunConfig,
  tunnels: readonly TunnelSpec[],
  deliver: ReadonlyMap<string, DeliverySettings>,
  log: (line: string) => void,
): Promise<UiProxy> {
  // One UI serves every tunnel started; its "Deliver to app" needs one target,
  // so it is offered when exactly one tunnel delivers.
  const only = deliver.size === 1 ? [...deliver.values()][0] : undefined;
  const ui = new UiProxy({
    listen,
    sink: parseHostPort(config.sink)!,
    currentClient: () => session.currentClient,
    user: config.user!,
    ...(only ? { deliver: only } : {}),
  });
  await ui.start();
  for (const t of tunnels) log(`[tunnel] mail UI: ${ui.url}?search=to:@${t.name}.${config.domain!}`);
  return ui;
}

/**
 * Delivery settings per tunnel: --deliver (for every tunnel started) or the
 * tunnel's "deliver" from the config, with the other --deliver-* flags.
 * Validated here, before anything starts.
 */
function deliveries(
  argv: Record<string, unknown>,
  tunnels: readonly TunnelSpec[],
  vm: string,
): Map<string, DeliverySettings & { scope: string }> {
  const out = new Map<string, DeliverySettings & { scope: string }>();
  for (const t of tunnels) {
    const target = argv.deliver ?? t.deliver ?? undefined;
    if (target === undefined) continue;
    const settings = deliverySettings({ ...argv, deliver: target }, { localPort: t.localPort })!;
    out.set(t.name, { ...settings, scope: `up:${vm}:${t.name}` });
  }
  // No tunnel delivers: still refuse --format & co. without a target.
  if (out.size === 0) deliverySettings(argv, {});
  return out;
}

const command: CommandModule = {
  command: "up [tunnels..]",
  describe: "Serve local ports at https://<name>.<domain> and stream their mail",
  builder: (y) =>
    withConfigOptions(
      withDeliverOptions(y, { pathHint: "a PATH on the tunnel's port (/webhooks/inbound) or a URL" })
        .positional("tunnels", {
          type: "string",
          array: true,
          describe: 'NAME PORT, or names of tunnels in the config file\'s "tunnels" (none: all of them)',
        })
        .option("json", { type: "boolean", default: false, describe: "Print mail as NDJSON" })
        .option("ui", {
          type: "string",
          default: UI_DEFAULT_LISTEN,
          describe: "Serve the VM sink's mail UI here (HOST:PORT, port 0: a free one; --no-ui: off)",
        })
        .option("basic-auth", {
          type: "string",
          requiresArg: true,
          describe: `Require user:password on the public URL (also ${BASIC_AUTH_ENV}); Caddy keeps only a bcrypt hash`,
        })
        .option("port25", {
          type: "boolean",
          default: true,
          describe: "Open port 25 on the VM while the tunnel is up (--no-port25 to skip)",
        })
        .example("$0 up api 3000", "https://api.<domain> -> localhost:3000")
        .example("$0 api 3000", "the same, shorter")
        .example("$0 up", 'every tunnel in the config file\'s "tunnels"')
        .example("$0 up api web", "the tunnels api and web from the config file")
        .example("$0 up api 3000 --basic-auth me:secret", "ask for a password on the public URL")
        .example("$0 up api 3000 --deliver /webhooks/inbound --format sendgrid", "POST mail to your app"),
      { azure: true },
    ),
  handler: async (argv) => {
    const uiListen = argv.ui === false ? null : parseHostPort(String(argv.ui ?? UI_DEFAULT_LISTEN));
    if (argv.ui !== false && !uiListen) {
      throw new UsageError(`--ui "${String(argv.ui)}" must be HOST:PORT, e.g. 127.0.0.1:8026 (or --no-ui)`);
    }
    const config = configFromArgv(argv as Record<string, unknown>);
    const args = ((argv.tunnels as unknown[] | undefined) ?? []).map(String);
    const tunnels = tunnelsToStart(args, config, basicAuthOverride(argv as Record<string, unknown>));
    requireKeys(config, ["host", "user", "domain"]);
    const deliver = deliveries(argv as Record<string, unknown>, tunnels, `${config.user}@${config.host}`);
    const json = argv.json === true;
    const log = (line: string): void => void process.stderr.write(line + "\n");

    let ui: UiProxy | null = null;
    let exiting = false;
    const finish = async (code: number, message?: string, signal?: string): Promise<never> => {
      if (exiting) {
        // A second Ctrl-C (or another fatal event) during cleanup: leave as soon as the routes
        // are gone, and within a second even when removing them hangs (the janitor does it then).
        if (message) log(message);
        await Promise.race([session.routesReleased(), delay(SECOND_SIGNAL_WAIT_MS)]);
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
      tunnels,
      json,
      color: !json && useColor(process.stdout),
      noPort25: argv.port25 === false,
      tunables: linkTunables(),
      log,
      out: process.stdout,
      onFatal: (err) => void finish(EXIT_FAILURE, `tun: ${err.message}`),
      deliver,
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
      await session.start();
      if (uiListen) ui = await startMailUi(session, uiListen, config, tunnels, deliver, log);
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
