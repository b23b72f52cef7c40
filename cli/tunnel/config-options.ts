// The tunnel config keys as command-line options, so every command that uses
// the config accepts `--host`, `--ssh-port`, … (`loadConfig` reads them from argv).
import type { Argv } from "yargs";
import { AZURE_KEYS, CONFIG_KEYS, flagName } from "../config/config.js";

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
};

export type TopLevelKey = (typeof CONFIG_KEYS)[number];

/** The keys a command reads: `keys` (default all top-level keys), plus azure.* when asked. */
export function withConfigOptions<T>(
  y: Argv<T>,
  opts: { azure: boolean; keys?: readonly TopLevelKey[] },
): Argv<T> {
  let out = y;
  for (const key of opts.keys ?? CONFIG_KEYS) {
    out = out.option(flagName(key).slice(2), {
      type: key === "sshPort" ? "number" : "string",
      describe: DESCRIPTIONS[key],
      group: "Config overrides (also TUN_<KEY> and the config file):",
      requiresArg: true,
    });
  }
  if (opts.azure) {
    for (const key of AZURE_KEYS) {
      out = out.option(`azure.${key}`, {
        type: "string",
        describe: `Azure ${key} (port-25 gate)`,
        group: "Config overrides (also TUN_<KEY> and the config file):",
        requiresArg: true,
        hidden: true,
      });
    }
  }
  return out;
}
