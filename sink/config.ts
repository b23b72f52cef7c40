// Sink configuration: flags and TUN_SINK_<NAME> environment variables resolved
// once into a frozen object. Every limit has a named constant with its unit.
import { availableParallelism, homedir } from "node:os";
import { join, resolve } from "node:path";
import { DEFAULT_HTTP_LISTEN, DEFAULT_SMTP_LISTEN } from "../protocol/wire.js";
import { parseDurationMs, parseHostPort, type HostPort } from "../protocol/values.js";
import { normalizeOrigin } from "../protocol/http-origin.js";
import { resolveSmtpHardening, SMTP_HARDENING_FLAGS, type SmtpHardening } from "./smtp/options.js";

export const DEFAULT_MAX_MESSAGE_SIZE_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MAX_MESSAGES = 50_000;
export const DEFAULT_MAX_AGE = "7d";
/** How long sessions may finish their transaction on shutdown before they get 421. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5_000;
/** Parse threads: the cores left after the SMTP/SQLite loop, at least one, at most four. */
export const DEFAULT_PARSE_WORKERS = Math.max(1, Math.min(4, availableParallelism() - 1));
export const MAX_PARSE_WORKERS = 64;
export const DEFAULT_STREAM_PING_INTERVAL_MS = 30_000;
/** Held GET /wait requests at once (--max-waits); beyond: 503 + Retry-After. */
export const DEFAULT_MAX_WAITS = 1_000;
/** Stream subscribers at once (--max-subscribers); beyond: close code 1013. */
export const DEFAULT_MAX_SUBSCRIBERS = 200;
/** Open HTTP connections (--max-http-connections); beyond: 503 + Retry-After. SMTP has its own budget. */
export const DEFAULT_MAX_HTTP_CONNECTIONS = 1_000;
/** `--db :memory:`: a database that lives only as long as the sink (see sink.ts for how). */
export const MEMORY_DB = ":memory:";

/** A flag or TUN_SINK_* value the sink cannot use; the message names it and what it expects. */
export class SinkConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SinkConfigError";
  }
}

export interface SinkConfig {
  readonly smtp: HostPort;
  readonly http: HostPort;
  /** Absolute path of the SQLite file, or MEMORY_DB for one that is removed when the sink stops. */
  readonly dbPath: string;
  readonly maxMessageSizeBytes: number;
  /** 0 disables the count limit. */
  readonly maxMessages: number;
  /** 0 disables the age limit. */
  readonly maxAgeMs: number;
  /** Recipient domains accepted (with their subdomains); empty accepts every recipient. */
  readonly domains: readonly string[];
  readonly shutdownGraceMs: number;
  /** Worker threads that parse large messages; 0 parses everything on the main thread. */
  readonly parseWorkers: number;
  /** WebSocket keepalive: ping interval; a subscriber that misses a pong is dropped. Not a flag. */
  readonly streamPingIntervalMs: number;
  /** Suppress the log lines on stdout (in-process test sinks). */
  readonly quiet: boolean;
  /** --http-host: Host names served besides localhost, 127.0.0.1, [::1] and --http's host. */
  readonly httpHosts: readonly string[];
  /** --cors: origins (scheme://host[:port]) allowed cross-site; each gets CORS headers. */
  readonly corsOrigins: readonly string[];
  readonly maxWaits: number;
  readonly maxSubscribers: number;
  readonly maxHttpConnections: number;
  /** STARTTLS/smtps, AUTH and the SMTP limits (issue 6; sink/smtp/options.ts). */
  readonly hardening: SmtpHardening;
}

/** Flag names as the CLI spells them; each also reads TUN_SINK_<UPPER_SNAKE>. */
export const SINK_FLAGS = [
  "smtp",
  "http",
  "db",
  "max-message-size",
  "max-messages",
  "max-age",
  "domain",
  "shutdown-grace",
  "parse-workers",
  "http-host",
  "cors",
  "max-waits",
  "max-subscribers",
  "max-http-connections",
  ...SMTP_HARDENING_FLAGS,
] as const;
export type SinkFlag = (typeof SINK_FLAGS)[number];

export type SinkFlagValues = Partial<
  Record<SinkFlag, string | number | boolean | readonly (string | number)[]>
>;

export function envName(flag: SinkFlag): string {
  return "TUN_SINK_" + flag.toUpperCase().replace(/-/g, "_");
}

export function defaultDbPath(env: NodeJS.ProcessEnv): string {
  const dataHome = env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(dataHome, "tun", "sink.db");
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

function parseBytes(input: string): number | null {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(input.trim());
  if (!m) return null;
  const unit = SIZE_UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return null;
  const n = Number(m[1]) * unit;
  return Number.isSafeInteger(n) ? n : null;
}

function parseCount(input: string): number | null {
  return /^\d+$/.test(input.trim()) && Number.isSafeInteger(Number(input)) ? Number(input) : null;
}

/** A DNS name, IPv4 address or [IPv6] address, optionally with :PORT. */
const HTTP_HOST_RE = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]+\])(:\d{1,5})?$/;

function isDomain(d: string): boolean {
  return /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i.test(
    d,
  );
}

/**
 * Resolves flags (already parsed by yargs, or given programmatically) over
 * TUN_SINK_* environment variables over defaults. A bad value throws a
 * SinkConfigError naming the flag and what it expects.
 */
export function resolveSinkConfig(flags: SinkFlagValues, env: NodeJS.ProcessEnv = process.env): SinkConfig {
  const raw = (flag: SinkFlag): string | undefined => {
    const v = flags[flag];
    if (v !== undefined && !Array.isArray(v)) return String(v);
    if (Array.isArray(v)) return v.length ? String(v[v.length - 1]) : undefined;
    const e = env[envName(flag)];
    return e !== undefined && e !== "" ? e : undefined;
  };
  const bad = (flag: SinkFlag, expected: string, got: string): never => {
    throw new SinkConfigError(`--${flag} (or ${envName(flag)}): expected ${expected}, got "${got}"`);
  };

  const hostPort = (flag: SinkFlag, def: string): HostPort => {
    const v = raw(flag) ?? def;
    return parseHostPort(v) ?? bad(flag, "HOST:PORT such as 127.0.0.1:2525", v);
  };

  const sizeText = raw("max-message-size");
  const maxMessageSizeBytes =
    sizeText === undefined
      ? DEFAULT_MAX_MESSAGE_SIZE_BYTES
      : (parseBytes(sizeText) ??
        bad("max-message-size", "a size in bytes such as 10485760 or 10MiB", sizeText));
  if (maxMessageSizeBytes < 1) bad("max-message-size", "a size of at least 1 byte", String(sizeText));

  const countText = raw("max-messages");
  const maxMessages =
    countText === undefined
      ? DEFAULT_MAX_MESSAGES
      : (parseCount(countText) ?? bad("max-messages", "a whole number (0 for no limit)", countText));

  const ageText = raw("max-age") ?? DEFAULT_MAX_AGE;
  const maxAgeMs =
    parseDurationMs(ageText) ?? bad("max-age", "a duration such as 7d, 12h or 90m (0 for no limit)", ageText);

  const graceText = raw("shutdown-grace");
  const shutdownGraceMs =
    graceText === undefined
      ? DEFAULT_SHUTDOWN_GRACE_MS
      : (parseDurationMs(graceText) ?? bad("shutdown-grace", "a duration such as 5s", graceText));

  const workersText = raw("parse-workers");
  const parseWorkers =
    workersText === undefined
      ? DEFAULT_PARSE_WORKERS
      : (parseCount(workersText) ??
        bad("parse-workers", `a whole number from 0 to ${MAX_PARSE_WORKERS}`, workersText));
  if (parseWorkers > MAX_PARSE_WORKERS)
    bad("parse-workers", `a whole number from 0 to ${MAX_PARSE_WORKERS}`, String(workersText));

  const domainFlag = flags.domain;
  const domainList: string[] =
    domainFlag !== undefined
      ? (Array.isArray(domainFlag) ? domainFlag : [domainFlag]).map(String)
      : (env[envName("domain")] ?? "").split(",");
  const domains = domainList
    .flatMap((d) => d.split(","))
    .map((d) => d.trim().replace(/^@/, "").toLowerCase())
    .filter((d) => d !== "");
  for (const d of domains) if (!isDomain(d)) bad("domain", "a domain name such as example.com", d);

  const smtp = hostPort("smtp", DEFAULT_SMTP_LISTEN);
  const list = (flag: SinkFlag): string[] | undefined => {
    const v = flags[flag];
    if (v !== undefined) return (Array.isArray(v) ? v : [v]).map(String);
    const e = env[envName(flag)];
    return e !== undefined ? e.split(",") : undefined;
  };
  const hardening = resolveSmtpHardening(raw, list, bad, smtp, (p) => resolve(p));

  // issue 11: who may talk to the HTTP API, and how many at once
  const httpHosts = (list("http-host") ?? []).map((h) => h.trim().toLowerCase()).filter((h) => h !== "");
  for (const h of httpHosts)
    if (!HTTP_HOST_RE.test(h))
      bad("http-host", "a host name such as ui.example.com, optionally with :PORT", h);
  const corsOrigins = (list("cors") ?? [])
    .map((o) => o.trim())
    .filter((o) => o !== "")
    .map((o) => normalizeOrigin(o) ?? bad("cors", "an origin such as https://app.example.com:8443", o));
  const cap = (flag: SinkFlag, def: number): number => {
    const text = raw(flag);
    if (text === undefined) return def;
    const n = parseCount(text);
    return n !== null && n >= 1 ? n : bad(flag, "a whole number of at least 1", text);
  };

  const dbText = raw("db");
  return Object.freeze({
    smtp: Object.freeze(smtp),
    http: Object.freeze(hostPort("http", DEFAULT_HTTP_LISTEN)),
    dbPath: dbText === MEMORY_DB ? MEMORY_DB : dbText !== undefined ? resolve(dbText) : defaultDbPath(env),
    maxMessageSizeBytes,
    maxMessages,
    maxAgeMs,
    domains: Object.freeze(domains),
    shutdownGraceMs,
    parseWorkers,
    streamPingIntervalMs: DEFAULT_STREAM_PING_INTERVAL_MS,
    quiet: false,
    httpHosts: Object.freeze(httpHosts),
    corsOrigins: Object.freeze(corsOrigins),
    maxWaits: cap("max-waits", DEFAULT_MAX_WAITS),
    maxSubscribers: cap("max-subscribers", DEFAULT_MAX_SUBSCRIBERS),
    maxHttpConnections: cap("max-http-connections", DEFAULT_MAX_HTTP_CONNECTIONS),
    hardening,
  });
}
