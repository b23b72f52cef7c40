// `tun port25 status|open|close|sweep`: inspect and manage the leased NSG
// rules that open inbound SMTP to the VM. A manual lease (`open`) is not
// renewed: this process exits at once, so the rule simply lives until its
// expiry (--ttl) or `tun port25 close`, and any sweep removes it afterwards.
import type { Argv } from "yargs";
import type { TunConfig } from "../config/config.js";
import { configFromArgv, withConfigOptions } from "../config/options.js";
import type { CommandModule } from "../command.js";
import { UsageError, UserError } from "../errors.js";
import { parseDurationMs } from "../../protocol/values.js";
import type { GateContext } from "../port25/context.js";
import type { LeaseView } from "../port25/lease.js";

/** A manual lease shorter than this is almost certainly a typo (ms). */
const MANUAL_TTL_MIN_MS = 10_000;
/** A forgotten manual lease must not keep port 25 open for days (ms). */
const MANUAL_TTL_MAX_MS = 24 * 3_600_000;
const MANUAL_TUNNEL_NAME = "manual";

type Args = Record<string, unknown>;

function withConfigFlags(y: Argv): Argv {
  return withConfigOptions(y, { azure: true, keys: [] });
}

function config(argv: Args): TunConfig {
  return configFromArgv(argv);
}

async function context(argv: Args): Promise<GateContext> {
  const { createGateContext } = await import("../port25/context.js");
  return createGateContext(config(argv), { log: (line) => process.stderr.write(line + "\n") });
}

/** Runs a port-25 action, turning Azure failures into one-line user errors. */
async function run(argv: Args, what: string, action: (gate: GateContext) => Promise<void>): Promise<void> {
  const gate = await context(argv);
  try {
    await action(gate);
  } catch (err) {
    const { toUserError } = await import("../port25/context.js");
    throw toUserError(err, what);
  }
}

function iso(d: Date | null): string {
  return d ? d.toISOString().replace(/\.\d{3}Z$/, "Z") : "unreadable";
}

function inWords(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${s % 60}s` : ""}`;
  return `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ""}`;
}

function leaseLine(l: LeaseView, now: number): string {
  const when = l.expired
    ? `expired=${iso(l.expiresAt)} (awaiting sweep)`
    : `expires=${iso(l.expiresAt)} (in ${inWords(l.expiresAt!.getTime() - now)})`;
  return `  ${l.rule}  owner=${l.owner ?? "?"}  tunnel=${l.tunnel ?? "?"}  ${when}  priority=${l.priority}`;
}

async function status(argv: Args): Promise<void> {
  await run(argv, "could not read the port-25 leases", async (gate) => {
    const { listLeases, otherRulesAllowingSmtp } = await import("../port25/lease.js");
    const { leases, rules } = await listLeases(gate.lease);
    const others = otherRulesAllowingSmtp(rules);
    const live = leases.filter((l) => !l.expired);
    // An expired rule still lets port 25 in until a sweep deletes it: that is "open", not "closed".
    const expired = leases.filter((l) => l.expired);
    const t = gate.lease.client.target;
    if (argv.json) {
      const out = {
        open: leases.length > 0,
        awaitingSweep: expired.map((l) => l.rule),
        subscriptionId: t.subscriptionId,
        resourceGroup: t.resourceGroup,
        nsg: t.nsg,
        leases: leases.map((l) => ({
          leaseId: l.leaseId,
          rule: l.rule,
          owner: l.owner,
          tunnel: l.tunnel,
          expiresAt: l.expiresAt ? iso(l.expiresAt) : null,
          expired: l.expired,
          priority: l.priority,
        })),
        // Rules tun does not manage that also allow inbound TCP 25 ("open" reflects lease rules only).
        otherRules: others.map((r) => ({ name: r.name, priority: r.priority })),
      };
      process.stdout.write(JSON.stringify(out) + "\n");
      return;
    }
    const now = gate.lease.client.now();
    const head =
      live.length > 0
        ? `port 25: open (${live.length} live lease${live.length === 1 ? "" : "s"})`
        : expired.length > 0
          ? `port 25: open (expired lease ${expired.map((l) => l.rule).join(", ")}, awaiting sweep)`
          : "port 25: closed (no live lease)";
    const lines = [
      `${head} — NSG ${t.nsg} in resource group ${t.resourceGroup}`,
      ...leases.map((l) => leaseLine(l, now)),
      ...others.map(
        (r) =>
          `  note: rule ${r.name} (priority ${r.priority}) is not a tun lease and also allows inbound TCP port 25`,
      ),
    ];
    process.stdout.write(lines.join("\n") + "\n");
  });
}

async function open(argv: Args): Promise<void> {
  await run(argv, "could not open port 25", async (gate) => {
    let ttlMs = gate.ttlMs;
    if (argv.ttl !== undefined) {
      const parsed = parseDurationMs(String(argv.ttl));
      if (parsed === null || parsed < MANUAL_TTL_MIN_MS || parsed > MANUAL_TTL_MAX_MS) {
        throw new UsageError(`--ttl "${String(argv.ttl)}" must be a duration from 10s to 24h, e.g. 30m`);
      }
      ttlMs = parsed;
    }
    const { createLease, sweepLeases } = await import("../port25/lease.js");
    const { rules } = await sweepLeases(gate.lease);
    const lease = await createLease(gate.lease, {
      tunnel: String(argv.name ?? MANUAL_TUNNEL_NAME),
      ttlMs,
      rules,
    });
    process.stdout.write(
      `port 25 open until ${iso(lease.expiresAt)} (lease ${lease.rule}, priority ${lease.priority}); ` +
        `it is not renewed: close it early with "tun port25 close"\n`,
    );
  });
}

async function close(argv: Args): Promise<void> {
  await run(argv, "could not close port-25 leases", async (gate) => {
    const { deleteLease, isOwnLease, listLeases } = await import("../port25/lease.js");
    const { leases } = await listLeases(gate.lease);
    const mine = argv.all ? leases : leases.filter((l) => isOwnLease(gate.lease, l));
    if (mine.length === 0) {
      process.stdout.write(
        argv.all
          ? "no port-25 lease to close\n"
          : `no port-25 lease owned by ${gate.lease.owner} (use --all for every lease)\n`,
      );
      return;
    }
    for (const l of mine) {
      await deleteLease(gate.lease, l.rule);
      process.stdout.write(`closed ${l.rule} (owner=${l.owner ?? "?"} tunnel=${l.tunnel ?? "?"})\n`);
    }
    const closed = new Set(mine.map((l) => l.rule));
    const others = leases.filter((l) => !closed.has(l.rule) && !l.expired);
    process.stdout.write(
      others.length > 0
        ? `port 25 stays open: ${others.length} other live lease${others.length === 1 ? "" : "s"}\n`
        : "port 25: closed\n",
    );
  });
}

async function sweep(argv: Args): Promise<void> {
  await run(argv, "could not sweep port-25 leases", async (gate) => {
    const { sweepLeases } = await import("../port25/lease.js");
    const result = await sweepLeases(gate.lease);
    process.stdout.write(
      `removed ${result.removed.length} expired lease${result.removed.length === 1 ? "" : "s"}\n`,
    );
    if (result.failed.length > 0) {
      throw new UserError(
        `${result.failed.length} expired lease(s) could not be removed (first: ${result.failed[0]!.error.message}); run "tun port25 sweep" again`,
      );
    }
  });
}

const command: CommandModule = {
  command: "port25",
  describe: "Inspect and manage the port-25 leases in the VM's NSG",
  builder: (y) =>
    withConfigFlags(y)
      .command(
        "status",
        "Show whether port 25 is open and every lease (owner, tunnel, expiry)",
        (b) => b.option("json", { type: "boolean", default: false, describe: "One JSON object" }),
        (argv) => status(argv as Args),
      )
      .command(
        "open",
        "Open port 25 with a manual lease that lives until --ttl passes or `tun port25 close`",
        (b) =>
          b
            .option("ttl", { type: "string", describe: "Lease lifetime (default azure.leaseTtl), e.g. 30m" })
            .option("name", {
              type: "string",
              describe: `Label recorded as the tunnel (default "${MANUAL_TUNNEL_NAME}")`,
            }),
        (argv) => open(argv as Args),
      )
      .command(
        "close",
        "Delete your leases (owner user@host), or every tun-smtp-* rule with --all",
        (b) => b.option("all", { type: "boolean", default: false, describe: "Every lease, whoever owns it" }),
        (argv) => close(argv as Args),
      )
      .command(
        "sweep",
        "Delete expired leases",
        (b) => b,
        (argv) => sweep(argv as Args),
      )
      .demandCommand(1, "Name a port25 command: status, open, close or sweep."),
  handler: () => undefined,
};
export default command;
