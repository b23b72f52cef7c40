// Lease rules in the NSG: create one on a free priority, renew it by
// rewriting its expiry, delete it, and sweep the expired ones. Port 25 is open
// while any unexpired tun-smtp-* rule exists; each tunnel holds its own rule,
// so one tunnel closing never closes another's port.
import type { SecurityRule } from "@azure/arm-network";
import { ulid } from "ulid";
import { UserError } from "../errors.js";
import { ArmError, type NsgClient, type RuleView } from "./arm-client.js";
import {
  RULE_PREFIX,
  formatDescription,
  isLeaseRuleName,
  parseDescription,
  storedOwner,
  type LeaseRecord,
} from "./description.js";
import { withRetry, type RetryPolicy } from "./retry.js";

export const SMTP_PORT = 25;

export interface LeaseContext {
  client: NsgClient;
  /** user@host of this machine. */
  owner: string;
  priorityRange: readonly [number, number];
  sourcePrefixes: readonly string[];
  retry: RetryPolicy;
  /** Tagged lines for the user ("[port25] ..."). */
  log: (line: string) => void;
  /** Where "retry N in Xs" notes go (default: log); a renewing tunnel silences them to report an outage once. */
  onRetry?: (line: string) => void;
  /** Cancels calls and retry waits in progress (a held lease closing). */
  signal?: AbortSignal;
  /** Clock override (tests); default: Azure's clock as seen in its responses. */
  now?: () => number;
}

export interface LeaseView {
  leaseId: string;
  rule: string;
  priority: number;
  /** Null fields when the description is not a lease record (treated as expired). */
  owner: string | null;
  tunnel: string | null;
  expiresAt: Date | null;
  expired: boolean;
}

export interface CreatedLease {
  leaseId: string;
  rule: string;
  priority: number;
  expiresAt: Date;
}

/** Azure's time (see NsgClient.now), unless a test supplies its own clock. */
const now = (ctx: LeaseContext) => (ctx.now ? ctx.now() : ctx.client.now());

export function ruleName(leaseId: string): string {
  return RULE_PREFIX + leaseId;
}

export function toLeaseView(rule: RuleView, at: number): LeaseView {
  const rec = parseDescription(rule.description);
  return {
    leaseId: rule.name.slice(RULE_PREFIX.length),
    rule: rule.name,
    priority: rule.priority,
    owner: rec?.owner ?? null,
    tunnel: rec?.tunnel ?? null,
    expiresAt: rec?.expiresAt ?? null,
    // A tun-smtp-* rule whose expiry we cannot read would keep port 25 open forever: treat it as expired.
    expired: !rec || rec.expiresAt.getTime() <= at,
  };
}

export async function listLeases(ctx: LeaseContext): Promise<{ leases: LeaseView[]; rules: RuleView[] }> {
  const rules = await withRetry(() => ctx.client.listRules(ctx.signal), retryPolicy(ctx), retryNote(ctx));
  const at = now(ctx);
  const leases = rules
    .filter((r) => isLeaseRuleName(r.name))
    .map((r) => toLeaseView(r, at))
    .sort((a, b) => a.rule.localeCompare(b.rule));
  return { leases, rules };
}

function retryPolicy(ctx: LeaseContext): RetryPolicy {
  return ctx.signal ? { ...ctx.retry, signal: ctx.signal } : ctx.retry;
}

function retryNote(ctx: LeaseContext) {
  return ({ attempt, delayMs, error }: { attempt: number; delayMs: number; error: ArmError }) =>
    (ctx.onRetry ?? ctx.log)(
      `[port25] ${error.message}; retry ${attempt} of ${ctx.retry.attempts - 1} in ${(delayMs / 1000).toFixed(1)}s`,
    );
}

function ruleBody(ctx: LeaseContext, priority: number, record: LeaseRecord): SecurityRule {
  // Azure takes one prefix (including "*") in sourceAddressPrefix, several in sourceAddressPrefixes.
  const source =
    ctx.sourcePrefixes.length === 1
      ? { sourceAddressPrefix: ctx.sourcePrefixes[0] }
      : { sourceAddressPrefixes: [...ctx.sourcePrefixes] };
  return {
    description: formatDescription(record),
    protocol: "Tcp",
    access: "Allow",
    direction: "Inbound",
    priority,
    sourcePortRange: "*",
    ...source,
    destinationAddressPrefix: "*",
    destinationPortRange: String(SMTP_PORT),
  };
}

/** Inbound priorities in the range not used by any rule other than `except`. */
function freePriorities(ctx: LeaseContext, rules: RuleView[], except?: string): number[] {
  const used = new Set(
    rules
      .filter(
        (r) => r.direction.toLowerCase() === "inbound" && r.name.toLowerCase() !== except?.toLowerCase(),
      )
      .map((r) => r.priority),
  );
  const [lo, hi] = ctx.priorityRange;
  const free: number[] = [];
  for (let p = lo; p <= hi; p++) if (!used.has(p)) free.push(p);
  return free;
}

/**
 * Writes the rule, trying `preferred` first and then random free priorities
 * (random so that clients racing for the same range rarely pick the same one).
 * A SecurityRuleConflict means someone took that priority meanwhile: skip it.
 */
async function putOnFreePriority(
  ctx: LeaseContext,
  name: string,
  record: LeaseRecord,
  rules: RuleView[],
  preferred?: number,
): Promise<number> {
  const free = freePriorities(ctx, rules, name);
  const candidates = preferred !== undefined && free.includes(preferred) ? [preferred] : [];
  const rest = free.filter((p) => p !== preferred);
  for (let i = rest.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [rest[i], rest[j]] = [rest[j]!, rest[i]!];
  }
  candidates.push(...rest);
  for (const priority of candidates) {
    try {
      await withRetry(
        () => ctx.client.putRule(name, ruleBody(ctx, priority, record), ctx.signal),
        retryPolicy(ctx),
        retryNote(ctx),
      );
      return priority;
    } catch (err) {
      if (err instanceof ArmError && err.kind === "conflict") continue;
      throw err;
    }
  }
  const [lo, hi] = ctx.priorityRange;
  throw new UserError(
    `no free inbound priority in azure.priorityRange ${lo}-${hi} of ${ctx.client.target.nsg}; widen azure.priorityRange or run "tun port25 sweep"`,
  );
}

export async function createLease(
  ctx: LeaseContext,
  opts: { tunnel: string; ttlMs: number; rules?: RuleView[] },
): Promise<CreatedLease> {
  const leaseId = ulid().toLowerCase();
  const name = ruleName(leaseId);
  const rules = opts.rules ?? (await listLeases(ctx)).rules;
  const expiresAt = new Date(now(ctx) + opts.ttlMs);
  let priority: number;
  try {
    priority = await putOnFreePriority(
      ctx,
      name,
      { owner: ctx.owner, tunnel: opts.tunnel, expiresAt },
      rules,
    );
  } catch (err) {
    // A PUT that Azure accepted but then failed may leave a half-made rule behind; nobody else will
    // ever renew or close it, so remove it now (best effort: the sweep gets it otherwise).
    await ctx.client.deleteRule(name).catch(() => undefined);
    throw err;
  }
  return { leaseId, rule: name, priority, expiresAt: roundDown(expiresAt) };
}

function roundDown(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

export type RenewOutcome =
  { renewed: true; priority: number; expiresAt: Date } | { renewed: false; reason: "removed" };

/**
 * Moves the lease's expiry. A rule that vanished before its expiry was closed
 * on purpose (`tun port25 close`): report "removed" and do not recreate it. A
 * rule that vanished after its expiry was swept during a renewal outage: put it back.
 */
export async function renewLease(
  ctx: LeaseContext,
  lease: { rule: string; priority: number; tunnel: string; expiresAt: Date; ttlMs: number },
): Promise<RenewOutcome> {
  const current = await withRetry(
    () => ctx.client.getRule(lease.rule, ctx.signal),
    retryPolicy(ctx),
    retryNote(ctx),
  );
  if (!current && now(ctx) < lease.expiresAt.getTime()) return { renewed: false, reason: "removed" };
  const expiresAt = new Date(now(ctx) + lease.ttlMs);
  const record = { owner: ctx.owner, tunnel: lease.tunnel, expiresAt };
  const rules = current ? [current] : (await listLeases(ctx)).rules;
  const priority = await putOnFreePriority(
    ctx,
    lease.rule,
    record,
    rules,
    current?.priority ?? lease.priority,
  );
  return { renewed: true, priority, expiresAt: roundDown(expiresAt) };
}

export async function deleteLease(ctx: LeaseContext, rule: string): Promise<void> {
  await withRetry(() => ctx.client.deleteRule(rule, ctx.signal), retryPolicy(ctx), retryNote(ctx));
}

export interface SweepResult {
  removed: LeaseView[];
  failed: Array<{ lease: LeaseView; error: Error }>;
  /** The NSG's rules after the sweep (for choosing a priority without listing again). */
  rules: RuleView[];
}

/** Deletes every expired lease rule; a failure on one rule does not stop the others. */
export async function sweepLeases(ctx: LeaseContext): Promise<SweepResult> {
  const { leases, rules } = await listLeases(ctx);
  const result: SweepResult = { removed: [], failed: [], rules };
  for (const lease of leases.filter((l) => l.expired)) {
    try {
      await deleteLease(ctx, lease.rule);
      result.removed.push(lease);
      ctx.log(
        `[port25] swept expired lease ${lease.rule} (owner=${lease.owner ?? "?"} tunnel=${lease.tunnel ?? "?"} expired=${lease.expiresAt?.toISOString() ?? "unreadable"})`,
      );
    } catch (err) {
      result.failed.push({ lease, error: err as Error });
      ctx.log(`[port25] could not sweep ${lease.rule}: ${(err as Error).message}`);
    }
  }
  const removed = new Set(result.removed.map((l) => l.rule));
  result.rules = rules.filter((r) => !removed.has(r.name));
  return result;
}

function portRangeIncludes(range: string, port: number): boolean {
  if (range.trim() === "*") return true;
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(range);
  if (!m) return false;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return lo <= port && port <= hi;
}

/**
 * Rules not managed by tun that allow inbound TCP to port 25 (ignoring their sources and any deny rule
 * ranked above them): while one exists, closing every lease does not close the port.
 */
export function otherRulesAllowingSmtp(rules: RuleView[]): RuleView[] {
  return rules.filter(
    (r) =>
      !isLeaseRuleName(r.name) &&
      r.direction.toLowerCase() === "inbound" &&
      r.access.toLowerCase() === "allow" &&
      ["tcp", "*"].includes((r.protocol ?? "*").toLowerCase()) &&
      [r.destinationPortRange ?? "", ...(r.destinationPortRanges ?? [])].some(
        (range) => range && portRangeIncludes(range, SMTP_PORT),
      ),
  );
}

/** Leases this machine's user owns (owner compared as stored, i.e. possibly truncated). */
export function isOwnLease(ctx: LeaseContext, lease: LeaseView): boolean {
  return lease.owner !== null && lease.owner === storedOwner(ctx.owner, lease.tunnel ?? "-");
}
