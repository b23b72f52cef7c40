// A lease held by a running process (a tunnel): renewed in the background
// until close(). Renewal failures never end the tunnel: they are retried on the
// next tick and reported once per outage (port 25 stays open until the last
// written expiry, and a later renewal puts a swept rule back).
import type { RuleView } from "./arm-client.js";
import { createLease, deleteLease, renewLease, type LeaseContext } from "./lease.js";

export interface HoldOptions {
  tunnel: string;
  ttlMs: number;
  renewIntervalMs: number;
}

export class HeldLease {
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private failing = false;
  private revoked = false;
  private readonly abort = new AbortController();
  private readonly ctx: LeaseContext;

  private constructor(
    ctx: LeaseContext,
    private readonly opts: HoldOptions,
    readonly leaseId: string,
    readonly rule: string,
    private priority: number,
    private expires: Date,
  ) {
    // Renewal retries stay quiet: an outage is reported once, by renew().
    this.ctx = { ...ctx, signal: this.abort.signal, onRetry: () => undefined };
  }

  static async open(ctx: LeaseContext, opts: HoldOptions, rules?: RuleView[]): Promise<HeldLease> {
    const created = await createLease(ctx, {
      tunnel: opts.tunnel,
      ttlMs: opts.ttlMs,
      ...(rules ? { rules } : {}),
    });
    const lease = new HeldLease(
      ctx,
      opts,
      created.leaseId,
      created.rule,
      created.priority,
      created.expiresAt,
    );
    lease.schedule();
    return lease;
  }

  get expiresAt(): Date {
    return this.expires;
  }

  /** Renews now (tests, and callers that know the network just came back). */
  renewNow(): Promise<void> {
    if (this.inflight) return this.inflight;
    clearTimeout(this.timer);
    this.inflight = this.renew().finally(() => {
      this.inflight = null;
      this.schedule();
    });
    return this.inflight;
  }

  private schedule(): void {
    if (this.closing || this.revoked) return;
    this.timer = setTimeout(() => void this.renewNow(), this.opts.renewIntervalMs);
    // The tunnel's own sockets keep the process alive; a forgotten lease must not.
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    try {
      const out = await renewLease(this.ctx, {
        rule: this.rule,
        priority: this.priority,
        tunnel: this.opts.tunnel,
        expiresAt: this.expires,
        ttlMs: this.opts.ttlMs,
      });
      if (!out.renewed) {
        this.revoked = true;
        this.ctx.log(
          `[port25] lease ${this.rule} was removed from the NSG (tun port25 close?); this tunnel no longer holds port 25 open`,
        );
        return;
      }
      this.priority = out.priority;
      this.expires = out.expiresAt;
      if (this.failing) {
        this.failing = false;
        this.ctx.log(`[port25] lease ${this.rule} renewed again (expires ${iso(this.expires)})`);
      }
    } catch (err) {
      if (this.closing) return;
      if (!this.failing) {
        this.failing = true;
        this.ctx.log(
          `[port25] could not renew lease ${this.rule}: ${(err as Error).message}; retrying every ${Math.round(this.opts.renewIntervalMs / 1000)}s (port 25 stays open until ${iso(this.expires)})`,
        );
      }
    }
  }

  /** Stops renewing and deletes the rule; idempotent. Throws an ArmError only when the delete itself fails. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.timer);
      // Cancel a renewal in flight (on a dead network it could otherwise hold teardown for a whole call
      // deadline). A renewal PUT that Azure already accepted still completes before our DELETE: Azure
      // serialises NSG operations, answering the DELETE 409 AnotherOperationInProgress until then.
      this.abort.abort();
      await this.inflight?.catch(() => undefined);
      // Teardown may wait on Azure: here each retry is worth a line.
      await deleteLease({ ...this.ctx, signal: undefined, onRetry: undefined }, this.rule);
      this.ctx.log(`[port25] lease ${this.rule} closed`);
    })();
    return this.closing;
  }
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}
