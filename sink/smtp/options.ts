// Resolves the SMTP hardening flags (TLS, AUTH, limits) for sink/config.ts,
// which owns the flag plumbing (flags over TUN_SINK_* over defaults).
import { isIP } from "node:net";
import { parseDurationMs, parseHostPort, type HostPort } from "../../protocol/values.js";
import { DEFAULT_LIMIT_EXEMPT, DEFAULT_SMTP_LIMITS, parseCidr, type SmtpLimits } from "./limits.js";

export const SMTP_HARDENING_FLAGS = [
  "tls",
  "tls-cert",
  "tls-key",
  "require-tls",
  "smtps",
  "auth",
  "max-connections",
  "max-connections-per-ip",
  "max-messages-per-ip",
  "max-recipients",
  "max-line-length",
  "idle-timeout",
  "session-timeout",
  "allow",
  "deny",
  "limit-exempt",
] as const;
export type SmtpHardeningFlag = (typeof SMTP_HARDENING_FLAGS)[number];

/** How clients may authenticate: "none" = AUTH not advertised; "accept-any" = any credentials pass. */
export type AuthMode = "none" | "accept-any";
export const AUTH_MODES: readonly AuthMode[] = ["none", "accept-any"];

/** auto: STARTTLS unless the SMTP listener is loopback-only (see resolveTlsMode). */
export type TlsMode = "auto" | "on" | "off";

export interface SmtpTlsConfig {
  /** Whether STARTTLS is offered (and smtps possible). */
  readonly enabled: boolean;
  readonly certPath: string | null;
  readonly keyPath: string | null;
  readonly require: boolean;
  readonly smtps: HostPort | null;
}

export interface SmtpHardening {
  readonly tls: SmtpTlsConfig;
  readonly auth: AuthMode;
  readonly limits: SmtpLimits;
}

export const DEFAULT_SMTP_HARDENING: SmtpHardening = Object.freeze({
  tls: Object.freeze({ enabled: false, certPath: null, keyPath: null, require: false, smtps: null }),
  auth: "none",
  limits: DEFAULT_SMTP_LIMITS,
});

type Raw = (flag: SmtpHardeningFlag) => string | undefined;
type List = (flag: SmtpHardeningFlag) => string[] | undefined;
type Bad = (flag: SmtpHardeningFlag, expected: string, got: string) => never;

function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

function parseBool(text: string): boolean | null {
  const t = text.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(t)) return true;
  if (["0", "false", "no", "off", ""].includes(t)) return false;
  return null;
}

/**
 * raw(): the flag's value (flag over env); list(): a repeatable flag's values
 * (comma-separated in the environment), undefined when not given at all.
 */
export function resolveSmtpHardening(
  raw: Raw,
  list: List,
  bad: Bad,
  smtpListen: HostPort,
  resolvePath: (p: string) => string,
): SmtpHardening {
  const count = (flag: SmtpHardeningFlag, def: number, min = 0): number => {
    const v = raw(flag);
    if (v === undefined) return def;
    const n = /^\d+$/.test(v.trim()) ? Number(v) : NaN;
    return Number.isSafeInteger(n) && n >= min ? n : bad(flag, `a whole number of at least ${min}`, v);
  };
  const duration = (flag: SmtpHardeningFlag, def: number): number => {
    const v = raw(flag);
    if (v === undefined) return def;
    const ms = parseDurationMs(v);
    return ms !== null && ms > 0 ? ms : bad(flag, "a duration such as 60s or 10m", v);
  };
  const cidrs = (flag: SmtpHardeningFlag, def: readonly string[]): readonly string[] => {
    const given = list(flag);
    if (given === undefined) return def;
    const items = given
      .flatMap((s) => s.split(","))
      .map((s) => s.trim())
      .filter((s) => s !== "");
    if (items.length === 1 && items[0] === "none") return Object.freeze([]);
    for (const c of items) if (!parseCidr(c)) bad(flag, "CIDRs such as 10.0.0.0/8 or 2001:db8::/32", c);
    return Object.freeze(items);
  };

  const modeText = raw("tls") ?? "auto";
  if (!["auto", "on", "off"].includes(modeText)) bad("tls", "auto, on or off", modeText);
  const mode = modeText as TlsMode;
  const certText = raw("tls-cert");
  const keyText = raw("tls-key");
  if ((certText === undefined) !== (keyText === undefined)) {
    const missing = certText === undefined ? "tls-cert" : "tls-key";
    bad(missing, "a PEM file given together with the other of --tls-cert/--tls-key", "");
  }
  const requireText = raw("require-tls");
  const require =
    requireText === undefined
      ? false
      : (parseBool(requireText) ?? bad("require-tls", "true or false", requireText));
  const smtpsText = raw("smtps");
  const smtps =
    smtpsText === undefined
      ? null
      : (parseHostPort(smtpsText) ?? bad("smtps", "HOST:PORT such as 0.0.0.0:465", smtpsText));
  const wantsTls = certText !== undefined || require || smtps !== null;
  if (mode === "off" && wantsTls) {
    bad("tls", "on or auto when --tls-cert, --require-tls or --smtps is given", modeText);
  }
  // A laptop sink on loopback stays plaintext: nodemailer upgrades to any STARTTLS it is offered and then
  // refuses the self-signed certificate, which would break every app pointed at a local sink.
  const enabled = mode === "on" || (mode === "auto" && (wantsTls || !isLoopback(smtpListen.host)));

  const authText = raw("auth") ?? "none";
  if (!AUTH_MODES.includes(authText as AuthMode)) bad("auth", AUTH_MODES.join(" or "), authText);

  const d = DEFAULT_SMTP_LIMITS;
  const limits: SmtpLimits = Object.freeze({
    maxConnections: count("max-connections", d.maxConnections, 1),
    maxConnectionsPerIp: count("max-connections-per-ip", d.maxConnectionsPerIp, 1),
    maxMessagesPerIpPerMinute: count("max-messages-per-ip", d.maxMessagesPerIpPerMinute, 1),
    maxRecipients: count("max-recipients", d.maxRecipients, 1),
    maxLineBytes: count("max-line-length", d.maxLineBytes, 512),
    idleTimeoutMs: duration("idle-timeout", d.idleTimeoutMs),
    sessionTimeoutMs: duration("session-timeout", d.sessionTimeoutMs),
    allow: cidrs("allow", d.allow),
    deny: cidrs("deny", d.deny),
    exempt: cidrs("limit-exempt", DEFAULT_LIMIT_EXEMPT),
  });

  return Object.freeze({
    tls: Object.freeze({
      enabled,
      certPath: certText !== undefined ? resolvePath(certText) : null,
      keyPath: keyText !== undefined ? resolvePath(keyText) : null,
      require,
      smtps: smtps ? Object.freeze(smtps) : null,
    }),
    auth: authText as AuthMode,
    limits,
  });
}
