// Value formats that both halves accept from users (flags, env, config):
// durations like "7d" and listen addresses like "127.0.0.1:2525".

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Parses "90", "90s", "5m", "1h30m", "7d" into milliseconds; a bare number is seconds. Null when invalid. */
export function parseDurationMs(input: string | number): number | null {
  if (typeof input === "number") return Number.isFinite(input) && input >= 0 ? input * 1000 : null;
  const s = input.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    if (m.index !== consumed) return null;
    total += Number(m[1]) * DURATION_UNITS_MS[m[2]!]!;
    consumed += m[0].length;
  }
  return consumed === s.length && consumed > 0 ? Math.round(total) : null;
}

export interface HostPort {
  host: string;
  port: number;
}

/** Parses "HOST:PORT" or "[v6]:PORT"; port 0 means "any free port". Null when invalid. */
export function parseHostPort(input: string): HostPort | null {
  const text = input.trim();
  const m = /^\[([^\]\s]+)\]:(\d{1,5})$/.exec(text) ?? /^([^\s:]+):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return null;
  return { host: m[1]!, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
