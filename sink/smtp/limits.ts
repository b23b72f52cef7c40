// Connection and rate limits of the SMTP listeners (plain and smtps share one
// Admission, so the totals hold across both). Defaults suit a sink that faces
// the internet on port 25 of a small VM; loopback clients (tests, benches on a
// laptop) are exempt from the per-IP limits unless --limit-exempt says otherwise.
import { BlockList, isIP } from "node:net";

/** Sessions open at once, both listeners together; beyond it: 421. */
export const DEFAULT_MAX_CONNECTIONS = 1_000;
/** Sessions open at once from one client IP; beyond it: 421. */
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 20;
/** MAIL FROM commands per client IP per minute; beyond it: 451 (try again later). */
export const DEFAULT_MAX_MESSAGES_PER_IP_PER_MINUTE = 300;
/** RCPT TO per message; beyond it: 452. */
export const DEFAULT_MAX_RECIPIENTS = 100;
/** Longest command line in bytes (RFC 5321 asks for 512; room for long SMTPUTF8 addresses and AUTH). */
export const DEFAULT_MAX_LINE_BYTES = 4_096;
/** A session that sends nothing for this long gets 421 and is closed. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** A session open longer than this gets 421 and is closed (slow-loris senders keep resetting the idle timer). */
export const DEFAULT_SESSION_TIMEOUT_MS = 10 * 60_000;
/** Client networks the per-IP limits do not apply to. */
export const DEFAULT_LIMIT_EXEMPT: readonly string[] = ["127.0.0.0/8", "::1/128"];
/** The window the per-IP message rate is counted over. */
export const RATE_WINDOW_MS = 60_000;

export interface SmtpLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly maxMessagesPerIpPerMinute: number;
  readonly maxRecipients: number;
  readonly maxLineBytes: number;
  readonly idleTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  /** CIDRs; when non-empty only these clients may connect. */
  readonly allow: readonly string[];
  /** CIDRs refused at connect (554), checked before allow. */
  readonly deny: readonly string[];
  /** CIDRs exempt from the per-IP connection and message limits. */
  readonly exempt: readonly string[];
}

export const DEFAULT_SMTP_LIMITS: SmtpLimits = Object.freeze({
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  maxConnectionsPerIp: DEFAULT_MAX_CONNECTIONS_PER_IP,
  maxMessagesPerIpPerMinute: DEFAULT_MAX_MESSAGES_PER_IP_PER_MINUTE,
  maxRecipients: DEFAULT_MAX_RECIPIENTS,
  maxLineBytes: DEFAULT_MAX_LINE_BYTES,
  idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
  sessionTimeoutMs: DEFAULT_SESSION_TIMEOUT_MS,
  allow: Object.freeze([]),
  deny: Object.freeze([]),
  exempt: DEFAULT_LIMIT_EXEMPT,
});

export interface Cidr {
  address: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

/** "10.0.0.0/8", "2001:db8::/32" or a single address; null when it is neither. */
export function parseCidr(text: string): Cidr | null {
  const [address = "", prefixText, ...rest] = text.trim().split("/");
  if (rest.length) return null;
  const version = isIP(address);
  if (!version) return null;
  const max = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return null;
  return { address, prefix, family: version === 4 ? "ipv4" : "ipv6" };
}

function blockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const text of cidrs) {
    const c = parseCidr(text);
    if (c) list.addSubnet(c.address, c.prefix, c.family);
  }
  return list;
}

function familyOf(ip: string): "ipv4" | "ipv6" | null {
  const v = isIP(ip);
  return v === 4 ? "ipv4" : v === 6 ? "ipv6" : null;
}

export interface Refusal {
  code: number;
  /** Reply text, enhanced status code included. */
  text: string;
  /** For the log line. */
  why: string;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Decides which sessions and messages are let in, and counts them. */
export class Admission {
  private readonly allow: BlockList | null;
  private readonly deny: BlockList;
  private readonly exempt: BlockList;
  private total = 0;
  private readonly perIp = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(readonly limits: SmtpLimits) {
    this.allow = limits.allow.length ? blockList(limits.allow) : null;
    this.deny = blockList(limits.deny);
    this.exempt = blockList(limits.exempt);
    // full buckets carry no information; dropping them keeps the map as small as the set of active senders
    this.sweeper = setInterval(() => this.sweep(), RATE_WINDOW_MS);
    this.sweeper.unref();
  }

  private matches(list: BlockList, ip: string): boolean {
    const family = familyOf(ip);
    return family !== null && list.check(ip, family);
  }

  /** Whether the client may open a session; on success the caller must call release() when it ends. */
  admit(ip: string): { release: () => void } | Refusal {
    if (this.matches(this.deny, ip)) {
      return {
        code: 554,
        text: "5.7.1 Connections from your address are not accepted",
        why: "denied (--deny)",
      };
    }
    if (this.allow && !this.matches(this.allow, ip)) {
      return {
        code: 554,
        text: "5.7.1 Connections from your address are not accepted",
        why: "not in --allow",
      };
    }
    if (this.total >= this.limits.maxConnections) {
      return {
        code: 421,
        text: "4.7.0 Too many connections, try again later",
        why: `--max-connections ${this.limits.maxConnections} reached`,
      };
    }
    const exempt = this.matches(this.exempt, ip);
    const mine = this.perIp.get(ip) ?? 0;
    if (!exempt && mine >= this.limits.maxConnectionsPerIp) {
      return {
        code: 421,
        text: "4.7.0 Too many connections from your address, try again later",
        why: `--max-connections-per-ip ${this.limits.maxConnectionsPerIp} reached`,
      };
    }
    this.total++;
    this.perIp.set(ip, mine + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const n = (this.perIp.get(ip) ?? 1) - 1;
        if (n > 0) this.perIp.set(ip, n);
        else this.perIp.delete(ip);
      },
    };
  }

  /** Counts one message (MAIL FROM) against the client's per-minute budget; a Refusal when it is spent. */
  takeMessage(ip: string, now = Date.now()): Refusal | null {
    if (this.matches(this.exempt, ip)) return null;
    const cap = this.limits.maxMessagesPerIpPerMinute;
    const b = this.buckets.get(ip) ?? { tokens: cap, updatedAt: now };
    // token bucket: refills continuously at cap per minute, so bursts up to cap are fine
    b.tokens = Math.min(cap, b.tokens + ((now - b.updatedAt) * cap) / RATE_WINDOW_MS);
    b.updatedAt = now;
    this.buckets.set(ip, b);
    if (b.tokens < 1) {
      return {
        code: 451,
        text: `4.7.1 Too many messages from your address (limit ${cap} per minute), try again later`,
        why: `--max-messages-per-ip ${cap}/min reached`,
      };
    }
    b.tokens -= 1;
    return null;
  }

  get connections(): number {
    return this.total;
  }

  private sweep(now = Date.now()): void {
    const cap = this.limits.maxMessagesPerIpPerMinute;
    for (const [ip, b] of this.buckets) {
      if (b.tokens + ((now - b.updatedAt) * cap) / RATE_WINDOW_MS >= cap) this.buckets.delete(ip);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
