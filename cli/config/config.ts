// The tunnel configuration: loaded once per command from the config file,
// then TUN_<KEY> environment variables, then flags (highest wins); validated
// into one frozen object. Every failure names the key, the file and the fix.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseDurationMs, parseHostPort } from "../../protocol/values.js";
import { UsageError } from "../errors.js";
import { parseTunnels, type TunnelConfig } from "./tunnels.js";

export interface AzureConfig {
  subscriptionId: string | null;
  resourceGroup: string | null;
  nsg: string | null;
  /** Inclusive priority range for lease rules. */
  priorityRange: readonly [number, number];
  /** Source address prefixes for the port-25 rule; ["*"] means any. */
  sourcePrefixes: readonly string[];
  /** Lease lifetime in milliseconds. */
  leaseTtlMs: number;
}

/**
 * How the VM's Caddy serves tunnels: certificates from Let's Encrypt ("acme"),
 * from Caddy's internal CA ("internal": labs, CI, DNS not ready yet; clients
 * must trust its root), or plain HTTP ("off").
 */
export const TLS_MODES = ["acme", "internal", "off"] as const;
export type TlsMode = (typeof TLS_MODES)[number];

export interface TunConfig {
  /** The file the values came from (it may not exist). */
  file: string;
  host: string | null;
  sshPort: number;
  user: string | null;
  identityFile: string | null;
  knownHosts: string;
  domain: string | null;
  caddyAdmin: string;
  caddyServer: string;
  sink: string;
  tls: TlsMode;
  azure: AzureConfig;
  /** Named tunnels from the file (`tun up` with no arguments starts them all). */
  tunnels: Readonly<Record<string, TunnelConfig>>;
}

/** Top-level keys as they appear in the file, flags (same name) and env (TUN_ + UPPER_SNAKE). */
export const CONFIG_KEYS = [
  "host",
  "sshPort",
  "user",
  "identityFile",
  "knownHosts",
  "domain",
  "caddyAdmin",
  "caddyServer",
  "sink",
  "tls",
] as const;
export const AZURE_KEYS = [
  "subscriptionId",
  "resourceGroup",
  "nsg",
  "priorityRange",
  "sourcePrefixes",
  "leaseTtl",
] as const;

export type ConfigKey = (typeof CONFIG_KEYS)[number] | `azure.${(typeof AZURE_KEYS)[number]}`;

export const DEFAULTS = Object.freeze({
  sshPort: 22,
  caddyAdmin: "127.0.0.1:2019",
  caddyServer: "tun",
  sink: "127.0.0.1:8025",
  tls: "acme" as TlsMode,
  priorityRange: [3000, 3099] as const,
  sourcePrefixes: ["*"] as const,
  leaseTtl: "5m",
});

/** `azure.subscriptionId` → `TUN_AZURE_SUBSCRIPTION_ID`; `sshPort` → `TUN_SSH_PORT`. */
export function envName(key: ConfigKey): string {
  return (
    "TUN_" +
    key
      .replace(/\./g, "_")
      .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
      .toUpperCase()
  );
}

/** `sshPort` → `--ssh-port`; `azure.nsg` → `--azure.nsg`. */
export function flagName(key: ConfigKey): string {
  return "--" + key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TUN_CONFIG) return env.TUN_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "tun", "config.json");
}

function expandHome(p: string, env: NodeJS.ProcessEnv): string {
  return p.startsWith("~/") ? join(env.HOME || homedir(), p.slice(2)) : p;
}

type Raw = Record<string, unknown>;

function readFile(file: string): Raw {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new UsageError(`cannot read config ${file}: ${(err as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not a JSON object");
    return parsed as Raw;
  } catch (err) {
    throw new UsageError(
      `config ${file} is not valid JSON (${(err as Error).message}); fix it or run "tun init"`,
    );
  }
}

function getPath(obj: Raw | undefined, key: string): unknown {
  if (!obj) return undefined;
  let cur: unknown = obj;
  for (const part of key.split(".")) {
    if (!cur || typeof cur !== "object") return undefined;
    cur = (cur as Raw)[part];
  }
  return cur;
}

export interface LoadOptions {
  /** Parsed flags (yargs argv); keys named like the config keys, nested for azure.*. */
  flags?: Raw;
  env?: NodeJS.ProcessEnv;
  /** Override the config file location (otherwise TUN_CONFIG or the XDG default). */
  file?: string;
}

/** Loads and validates the config. Missing optional values are null; use `requireKeys` for what a command needs. */
export function loadConfig(opts: LoadOptions = {}): TunConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ?? defaultConfigPath(env);
  const fileValues = readFile(file);

  const pick = (key: ConfigKey): { value: unknown; from: string } | undefined => {
    const flag = getPath(opts.flags, key);
    if (flag !== undefined && flag !== null && flag !== "") return { value: flag, from: flagName(key) };
    const e = env[envName(key)];
    if (e !== undefined && e !== "") return { value: e, from: envName(key) };
    const f = getPath(fileValues, key);
    if (f !== undefined && f !== null) return { value: f, from: file };
    return undefined;
  };
  const bad = (key: ConfigKey, from: string, expected: string): never => {
    throw new UsageError(
      `config "${key}" (from ${from}) must be ${expected}; fix it in ${file}, with ${flagName(key)} or ${envName(key)}`,
    );
  };
  const str = (key: ConfigKey): string | null => {
    const v = pick(key);
    if (!v) return null;
    if (typeof v.value !== "string" && typeof v.value !== "number") return bad(key, v.from, "a string");
    return String(v.value).trim() || null;
  };
  const int = (key: ConfigKey, def: number, min: number, max: number): number => {
    const v = pick(key);
    if (!v) return def;
    const n = Number(v.value);
    if (!Number.isInteger(n) || n < min || n > max)
      return bad(key, v.from, `a whole number from ${min} to ${max}`);
    return n;
  };
  const hostPort = (key: ConfigKey, def: string): string => {
    const v = str(key) ?? def;
    if (parseHostPort(v) === null) {
      return bad(key, pick(key)?.from ?? "default", "HOST:PORT, e.g. 127.0.0.1:2019");
    }
    return v;
  };

  const domain = str("domain");
  if (domain !== null && !/^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/i.test(domain)) {
    bad("domain", pick("domain")!.from, "a DNS domain such as tun.example.com");
  }

  const rangeRaw = pick("azure.priorityRange");
  let priorityRange: readonly [number, number] = DEFAULTS.priorityRange;
  if (rangeRaw) {
    const parts = Array.isArray(rangeRaw.value)
      ? rangeRaw.value.map(Number)
      : String(rangeRaw.value).split(/[-,]/).map(Number);
    const [lo, hi] = parts;
    if (
      parts.length !== 2 ||
      !Number.isInteger(lo) ||
      !Number.isInteger(hi) ||
      lo! < 100 ||
      hi! > 4096 ||
      lo! > hi!
    ) {
      bad("azure.priorityRange", rangeRaw.from, "two priorities LOW-HIGH within 100-4096, e.g. 3000-3099");
    }
    priorityRange = Object.freeze([lo!, hi!] as const);
  }

  const prefixesRaw = pick("azure.sourcePrefixes");
  let sourcePrefixes: readonly string[] = DEFAULTS.sourcePrefixes;
  if (prefixesRaw) {
    const list = Array.isArray(prefixesRaw.value)
      ? prefixesRaw.value.map(String)
      : String(prefixesRaw.value)
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
    if (list.length === 0) bad("azure.sourcePrefixes", prefixesRaw.from, 'a list of CIDR prefixes or "*"');
    sourcePrefixes = Object.freeze(list);
  }

  const ttlRaw = pick("azure.leaseTtl");
  const leaseTtlMs = parseDurationMs(ttlRaw ? (ttlRaw.value as string) : DEFAULTS.leaseTtl);
  if (leaseTtlMs === null || leaseTtlMs < 60_000) {
    bad("azure.leaseTtl", ttlRaw?.from ?? "default", "a duration of at least 1m, e.g. 5m");
  }

  const tlsRaw = str("tls") ?? DEFAULTS.tls;
  if (!(TLS_MODES as readonly string[]).includes(tlsRaw)) {
    bad("tls", pick("tls")!.from, `one of ${TLS_MODES.join(", ")}`);
  }

  const identityFile = str("identityFile");
  const config: TunConfig = {
    file,
    host: str("host"),
    sshPort: int("sshPort", DEFAULTS.sshPort, 1, 65535),
    user: str("user"),
    identityFile: identityFile ? expandHome(identityFile, env) : null,
    knownHosts: expandHome(str("knownHosts") ?? "~/.ssh/known_hosts", env),
    domain: domain?.toLowerCase() ?? null,
    caddyAdmin: hostPort("caddyAdmin", DEFAULTS.caddyAdmin),
    caddyServer: str("caddyServer") ?? DEFAULTS.caddyServer,
    sink: hostPort("sink", DEFAULTS.sink),
    tls: tlsRaw as TlsMode,
    azure: Object.freeze({
      subscriptionId: str("azure.subscriptionId"),
      resourceGroup: str("azure.resourceGroup"),
      nsg: str("azure.nsg"),
      priorityRange,
      sourcePrefixes,
      leaseTtlMs: leaseTtlMs!,
    }),
    tunnels: parseTunnels(fileValues.tunnels, file),
  };
  return Object.freeze(config);
}

/** Throws a one-line UsageError naming the first missing key, the file and the fix. */
export function requireKeys(config: TunConfig, keys: readonly ConfigKey[]): void {
  for (const key of keys) {
    const value = key.startsWith("azure.")
      ? (config.azure as unknown as Raw)[key.slice("azure.".length)]
      : (config as unknown as Raw)[key];
    if (value === null || value === undefined) {
      throw new UsageError(
        `config "${key}" is not set in ${config.file}; run "tun init", or pass ${flagName(key)} or set ${envName(key)}`,
      );
    }
  }
}

/** True when any azure.* identity key is configured (the port-25 gate is wanted). */
export function azureConfigured(config: TunConfig): boolean {
  const a = config.azure;
  return a.subscriptionId !== null || a.resourceGroup !== null || a.nsg !== null;
}
