// The lease record kept in an NSG rule. NSG rules have no tags and no TTL, so
// owner, tunnel and expiry live in the rule description (at most 140
// characters) in a compact key=value form that both people and `tun` read:
//   tun lease owner=alice@laptop tunnel=api exp=2026-11-22T10:00:00Z

/** Every lease rule is named RULE_PREFIX + leaseId. */
export const RULE_PREFIX = "tun-smtp-";
/** Azure's limit on a security rule description, in characters. */
export const DESCRIPTION_MAX_CHARS = 140;
const MARKER = "tun lease";
/** Longest tunnel name kept in a description; the owner gets the rest. */
const TUNNEL_MAX_CHARS = 40;

export interface LeaseRecord {
  owner: string;
  tunnel: string;
  /** Expiry, whole seconds (ISO 8601, UTC). */
  expiresAt: Date;
}

/** Values are single tokens: whitespace and `=` would break parsing. */
function token(value: string, max: number): string {
  const cleaned = value.replace(/[\s=]+/g, "_") || "-";
  return cleaned.length > max ? cleaned.slice(0, max) : cleaned;
}

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function ownerBudget(tunnel: string): number {
  const fixed = `${MARKER} owner= tunnel=${tunnel} exp=${isoSeconds(new Date(0))}`.length;
  return DESCRIPTION_MAX_CHARS - fixed;
}

/**
 * The owner as it will be stored: long user@host values are truncated to fit,
 * so ownership comparisons must normalise both sides with this.
 */
export function storedOwner(owner: string, tunnel: string): string {
  return token(owner, ownerBudget(token(tunnel, TUNNEL_MAX_CHARS)));
}

export function formatDescription(rec: LeaseRecord): string {
  const tunnel = token(rec.tunnel, TUNNEL_MAX_CHARS);
  const owner = token(rec.owner, ownerBudget(tunnel));
  return `${MARKER} owner=${owner} tunnel=${tunnel} exp=${isoSeconds(rec.expiresAt)}`;
}

/** Null when the text is not a lease record we can trust (no marker or no valid expiry). */
export function parseDescription(text: string | undefined): LeaseRecord | null {
  if (!text || !text.startsWith(MARKER + " ")) return null;
  const fields = new Map<string, string>();
  // Unknown keys are ignored so a later format can add fields without breaking older sweepers.
  for (const part of text.slice(MARKER.length).trim().split(/\s+/)) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const exp = fields.get("exp");
  if (!exp || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(exp)) return null;
  const expiresAt = new Date(exp);
  if (Number.isNaN(expiresAt.getTime())) return null;
  return { owner: fields.get("owner") ?? "-", tunnel: fields.get("tunnel") ?? "-", expiresAt };
}

export function isLeaseRuleName(name: string | undefined): name is string {
  return !!name && name.toLowerCase().startsWith(RULE_PREFIX);
}
