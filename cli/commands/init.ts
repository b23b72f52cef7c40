// `tun init`: write the tunnel config file. Values come from flags, TUN_<KEY>
// variables and the existing file; on a terminal each key is asked with that
// value as its default. The result is validated by the same loader every
// command uses before it replaces the file, so init never writes a config
// that `tun up` would reject.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { CommandModule } from "../command.js";
import {
  AZURE_KEYS,
  CONFIG_KEYS,
  defaultConfigPath,
  flagName,
  loadConfig,
  type TlsMode,
  type TunConfig,
} from "../config/config.js";
import { UsageError, UserError } from "../errors.js";
import { configFromArgv, withConfigOptions } from "../config/options.js";
import { knownHostsName } from "../tunnel/known-hosts.js";
import { ask, canPrompt } from "../tunnel/prompt.js";

const REQUIRED = ["host", "user", "domain"] as const;
const QUESTIONS: Record<(typeof CONFIG_KEYS)[number], string> = {
  host: "Tunnel VM host name or address",
  sshPort: "SSH port",
  user: "SSH user on the VM",
  identityFile: "Private key file (empty: use ssh-agent)",
  knownHosts: "known_hosts file",
  domain: "Tunnel base domain (e.g. tun.example.com)",
  caddyAdmin: "Caddy admin API on the VM",
  caddyServer: "Caddy server holding tunnel routes",
  sink: "Sink HTTP listener on the VM",
  tls: "TLS on the VM: acme, internal or off",
};

type Raw = Record<string, unknown>;

function readExisting(file: string): Raw {
  if (!existsSync(file)) return {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Raw;
  } catch {
    // fall through
  }
  throw new UsageError(
    `${file} is not a JSON object; move it aside (mv ${file} ${file}.bak) and run tun init again`,
  );
}

function defaultIdentity(env: NodeJS.ProcessEnv): string | null {
  const home = env.HOME || homedir();
  for (const name of ["id_ed25519", "id_ecdsa", "id_rsa"]) {
    const p = join(home, ".ssh", name);
    if (existsSync(p)) return p;
  }
  return null;
}

/** Where Debian's and Caddy's packages keep the internal CA's root on the VM (caddy user's data dir). */
const CADDY_INTERNAL_ROOT = "/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt";

/** What the TLS mode means for the developer's machine, one line each. */
function tlsAdvice(c: Pick<TunConfig, "tls" | "host" | "user" | "sshPort">): string[] {
  if (c.tls === "off") {
    return ["tls off: tunnels are served as plain http://<name>.<domain> (labs and CI only)"];
  }
  if (c.tls !== "internal") return [];
  const ssh = `ssh -p ${c.sshPort} ${c.user ?? "USER"}@${c.host ?? "HOST"}`;
  return [
    "tls internal: Caddy signs tunnel certificates with its own CA; trust its root on every machine that calls a tunnel:",
    `  ${ssh} sudo cat ${CADDY_INTERNAL_ROOT} > tun-caddy-root.crt   (an admin on the VM)`,
    "  Debian/Ubuntu: sudo cp tun-caddy-root.crt /usr/local/share/ca-certificates/ && sudo update-ca-certificates;" +
      " Node: NODE_EXTRA_CA_CERTS=tun-caddy-root.crt; curl: --cacert tun-caddy-root.crt",
  ];
}

const command: CommandModule = {
  command: "init",
  describe: "Write the tunnel configuration file",
  builder: (y) =>
    withConfigOptions(
      y
        .option("yes", {
          alias: "y",
          type: "boolean",
          default: false,
          describe: "Do not ask; take flags, TUN_* variables and the current file as they are",
        })
        .example("$0 init", "asks for each value")
        .example("$0 init --host vm.example.com --user tun --domain tun.example.com -y", "no questions")
        .example("$0 init --tls internal -y", "Caddy's internal CA instead of Let's Encrypt (labs, CI)"),
      { azure: true },
    ),
  handler: async (argv) => {
    const env = process.env;
    const file = defaultConfigPath(env);
    const existing = readExisting(file);
    let merged: TunConfig;
    try {
      merged = configFromArgv(argv as Raw, { file });
    } catch (err) {
      if (err instanceof UserError) throw new UsageError(err.message.replace(/; fix it .*$/, ""));
      throw err;
    }

    const values: Raw = {};
    for (const key of CONFIG_KEYS) values[key] = merged[key];
    if (values.identityFile === null && !env.SSH_AUTH_SOCK) values.identityFile = defaultIdentity(env);

    if (canPrompt() && argv.yes !== true) {
      process.stderr.write(`[init] writing ${file}; press Enter to keep the value in brackets\n`);
      for (const key of CONFIG_KEYS) {
        const current = values[key];
        const shown = current === null || current === undefined ? "" : String(current);
        const answer = (await ask(`${QUESTIONS[key]} [${shown}]: `)).trim();
        if (answer) values[key] = key === "sshPort" ? Number(answer) : answer;
        if (answer === "-") values[key] = null;
      }
    }

    const missing = REQUIRED.filter((k) => values[k] === null || values[k] === undefined || values[k] === "");
    if (missing.length) {
      throw new UsageError(
        `tun init needs ${missing.map((k) => `"${k}"`).join(", ")}: pass ${missing.map((k) => flagName(k)).join(", ")} (or run it in a terminal to be asked)`,
      );
    }

    // Keep what the file already had (e.g. azure.*), overlay the new values.
    const out: Raw = { ...existing };
    for (const key of CONFIG_KEYS) {
      if (values[key] === null || values[key] === undefined) delete out[key];
      else out[key] = values[key];
    }
    const azureFlags = (argv.azure ?? {}) as Raw;
    const azure: Raw = { ...((existing.azure as Raw | undefined) ?? {}) };
    for (const key of AZURE_KEYS) if (azureFlags[key] !== undefined) azure[key] = azureFlags[key];
    if (Object.keys(azure).length) out.azure = azure;

    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(out, null, 2) + "\n", { mode: 0o600 });
    try {
      // Validate exactly what was written, without env overrides hiding a bad file value.
      loadConfig({ file: tmp, env: { HOME: env.HOME } });
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new UsageError((err as Error).message.replace(tmp, file));
    }
    renameSync(tmp, file);

    const log = (line: string): void => void process.stderr.write(line + "\n");
    log(`[init] wrote ${file}`);
    const port = Number(values.sshPort);
    log(
      `[init] the VM's host key must be in ${String(values.knownHosts)}; check with: ` +
        `ssh-keygen -F '${knownHostsName(String(values.host), port)}' -f ${String(values.knownHosts)}`,
    );
    for (const line of tlsAdvice(
      merged.tls === values.tls ? merged : { ...merged, tls: values.tls as TlsMode },
    ))
      log(`[init] ${line}`);
    log(`[init] next: tun doctor, then tun up <name> <port>, e.g. tun api 3000`);
  },
};
export default command;
