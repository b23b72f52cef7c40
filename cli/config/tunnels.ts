// The named tunnels of the config file (`"tunnels": { "api": { "port": 3000,
// "deliver": "/hooks/inbound", "basicAuth": "user:password" } }`) and the
// values they share with the command line: tunnel names and basic-auth
// credentials. Validated once, with messages that name the key and the file.
import { UsageError } from "../errors.js";

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/** Longest DNS label, in characters (RFC 1035). */
export const DNS_LABEL_MAX_CHARS = 63;

/** Code of the space character; below it are control characters. */
const FIRST_PRINTABLE_CHAR = 0x20;

export interface BasicAuthCredentials {
  username: string;
  password: string;
}

export interface TunnelConfig {
  /** Local port of the app. */
  port: number;
  /** Where captured mail is POSTed (issue 14's delivery): a path on the app, or a URL. */
  deliver: string | null;
  basicAuth: BasicAuthCredentials | null;
}

export function isDnsLabel(name: string): boolean {
  return DNS_LABEL.test(name);
}

/** Why `name` cannot be a tunnel name, or null when it can. */
export function tunnelNameProblem(name: string): string | null {
  if (isDnsLabel(name)) return null;
  return `"${name}" is not a DNS label: use lowercase letters, digits and inner hyphens, at most ${DNS_LABEL_MAX_CHARS} characters`;
}

/** "user:password" → credentials; null with the reason when malformed. */
export function parseBasicAuth(raw: string): BasicAuthCredentials | string {
  const colon = raw.indexOf(":");
  if (colon <= 0 || colon === raw.length - 1)
    return 'expected "user:password" with a non-empty user and password';
  const username = raw.slice(0, colon);
  if ([...username].some((c) => c.trim() === "" || c.charCodeAt(0) < FIRST_PRINTABLE_CHAR))
    return "the user name must not contain spaces or control characters";
  return { username, password: raw.slice(colon + 1) };
}

function parsePort(value: unknown): number | null {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535 ? n : null;
}

function isDeliverTarget(value: string): boolean {
  if (value.startsWith("/")) return true;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

/** Parses the file's `tunnels` object (absent: none). */
export function parseTunnels(raw: unknown, file: string): Readonly<Record<string, TunnelConfig>> {
  if (raw === undefined || raw === null) return Object.freeze({});
  const bad = (key: string, expected: string): never => {
    throw new UsageError(`config "${key}" in ${file} must be ${expected}`);
  };
  if (typeof raw !== "object" || Array.isArray(raw)) {
    return bad("tunnels", 'an object of named tunnels, e.g. { "api": { "port": 3000 } }');
  }
  const out: Record<string, TunnelConfig> = {};
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    const key = `tunnels.${name}`;
    const problem = tunnelNameProblem(name);
    if (problem) throw new UsageError(`config "${key}" in ${file}: ${problem}`);
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
      return bad(key, 'an object such as { "port": 3000 }');
    }
    const e = entry as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (!["port", "deliver", "basicAuth"].includes(k)) {
        throw new UsageError(
          `config "${key}.${k}" in ${file} is not a tunnel setting; known: port, deliver, basicAuth`,
        );
      }
    }
    const port = parsePort(e.port);
    if (port === null) bad(`${key}.port`, "a whole number from 1 to 65535");
    let deliver: string | null = null;
    if (e.deliver !== undefined && e.deliver !== null) {
      if (typeof e.deliver !== "string" || !isDeliverTarget(e.deliver)) {
        bad(`${key}.deliver`, 'a path on the app such as "/hooks/inbound" or an http(s) URL');
      }
      deliver = e.deliver as string;
    }
    let basicAuth: BasicAuthCredentials | null = null;
    if (e.basicAuth !== undefined && e.basicAuth !== null) {
      const parsed = typeof e.basicAuth === "string" ? parseBasicAuth(e.basicAuth) : "expected a string";
      if (typeof parsed === "string") bad(`${key}.basicAuth`, `"user:password" (${parsed})`);
      basicAuth = parsed as BasicAuthCredentials;
    }
    out[name] = Object.freeze({ port: port!, deliver, basicAuth });
  }
  return Object.freeze(out);
}
