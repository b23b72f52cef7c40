// The config keys as command-line options, so every command that reads the
// config accepts `--host`, `--ssh-port`, `--azure.nsg`, … and `configFromArgv`
// turns the parsed argv into the validated config.
import type { Argv } from "yargs";
import { UsageError } from "../errors.js";
import { AZURE_KEYS, CONFIG_KEYS, flagName, loadConfig, type TunConfig } from "./config.js";

const GROUP = "Config overrides (also TUN_<KEY> and the config file):";

const DESCRIPTIONS: Record<(typeof CONFIG_KEYS)[number], string> = {
  host: "Tunnel VM host name or address",
  sshPort: "SSH port of the VM",
  user: "SSH user on the VM",
  identityFile: "Private key file (the SSH agent is used when SSH_AUTH_SOCK is set)",
  knownHosts: "known_hosts file used to verify the VM's host key",
  domain: "Tunnel base domain, e.g. tun.example.com",
  caddyAdmin: "Caddy admin API address on the VM",
  caddyServer: "Caddy HTTP server that holds tunnel routes",
  sink: "The sink's HTTP listener on the VM (HOST:PORT)",
  tls: "How the VM's Caddy serves tunnels: acme (Let's Encrypt), internal (Caddy's own CA) or off (plain HTTP)",
};

const AZURE_DESCRIPTIONS: Record<(typeof AZURE_KEYS)[number], string> = {
  subscriptionId: "Azure subscription of the VM's NSG",
  resourceGroup: "Resource group of the NSG",
  nsg: "Network security group of the VM",
  priorityRange: "Priorities for lease rules, e.g. 3000-3099",
  sourcePrefixes: 'Allowed SMTP sources: "*" or CIDRs, comma-separated',
  leaseTtl: "Lease lifetime, e.g. 5m",
};

export type TopLevelKey = (typeof CONFIG_KEYS)[number];

/** Registers the keys a command reads: `keys` (default all top-level keys), plus azure.* when asked. */
export function withConfigOptions<T>(
  y: Argv<T>,
  opts: { azure: boolean; keys?: readonly TopLevelKey[] },
): Argv<T> {
  let out = y;
  for (const key of opts.keys ?? CONFIG_KEYS) {
    out = out.option(flagName(key).slice(2), {
      type: key === "sshPort" ? "number" : "string",
      describe: DESCRIPTIONS[key],
      group: GROUP,
      requiresArg: true,
    });
  }
  if (opts.azure) {
    // yargs' strict mode rejects dotted options unless their parent is declared too.
    out = out.option("azure", { hidden: true });
    for (const key of AZURE_KEYS) {
      out = out.option(flagName(`azure.${key}`).slice(2), {
        type: "string",
        describe: AZURE_DESCRIPTIONS[key],
        group: GROUP,
        requiresArg: true,
      });
    }
  }
  return out;
}

/** yargs files `--azure.lease-ttl` under both `leaseTtl` and `lease-ttl`. */
const KNOWN_AZURE_FLAGS = new Set<string>(
  AZURE_KEYS.flatMap((k) => [k, flagName(`azure.${k}`).slice("--azure.".length)]),
);

/** Validates the `--azure.*` flags yargs cannot check itself, then loads the config with argv as flags. */
export function configFromArgv(argv: Record<string, unknown>, opts: { file?: string } = {}): TunConfig {
  const azure = argv.azure;
  if (azure !== undefined && (typeof azure !== "object" || azure === null)) {
    throw new UsageError("--azure takes a key, e.g. --azure.nsg NAME");
  }
  for (const key of Object.keys((azure as Record<string, unknown> | undefined) ?? {})) {
    if (!KNOWN_AZURE_FLAGS.has(key)) {
      throw new UsageError(
        `unknown option --azure.${key}; known: ${AZURE_KEYS.map((k) => flagName(`azure.${k}`)).join(", ")}`,
      );
    }
  }
  return loadConfig({ flags: argv, ...opts });
}
