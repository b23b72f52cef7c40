// The NSG as the gate sees it: read its rules, put and delete one rule. Wraps
// @azure/arm-network (imported lazily) and turns every SDK failure into an
// ArmError whose kind drives retries and whose message is one line naming the
// resource and the fix.
import type { NetworkManagementClient, SecurityRule } from "@azure/arm-network";
import { isSignInError, signInFailureMessage, type ArmCredential } from "./credentials.js";

export interface NsgTarget {
  subscriptionId: string;
  resourceGroup: string;
  nsg: string;
}

export type ArmErrorKind =
  /** 409 AnotherOperationInProgress, or an operation that ended Failed with it: retry with backoff. */
  | "busy"
  /** 429 (after the SDK's own Retry-After retries): retry after retryAfterMs. */
  | "throttled"
  /** 400 SecurityRuleConflict: the priority is taken; pick another. */
  | "conflict"
  /** The rule, NSG, resource group or subscription does not exist. */
  | "notFound"
  | "auth"
  | "forbidden"
  | "unreachable"
  /** The caller aborted (e.g. a lease closing while its renewal was in flight). */
  | "cancelled"
  | "other";

export class ArmError extends Error {
  constructor(
    message: string,
    readonly kind: ArmErrorKind,
    readonly status?: number,
    readonly code?: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "ArmError";
  }
  get retryable(): boolean {
    return this.kind === "busy" || this.kind === "throttled";
  }
}

/** The rule fields the gate uses, flattened. */
export interface RuleView {
  name: string;
  priority: number;
  direction: string;
  access: string;
  description?: string;
  sourceAddressPrefix?: string;
  sourceAddressPrefixes?: string[];
  destinationPortRange?: string;
  destinationPortRanges?: string[];
  protocol?: string;
}

export interface NsgClientOptions {
  endpoint: string;
  credential: ArmCredential;
  pollIntervalMs: number;
  /** Extra trusted CA (PEM) for a private endpoint; child processes use NODE_EXTRA_CA_CERTS instead. */
  caPem?: string;
  /** Delay between the SDK's own transport/5xx retries (ms). */
  sdkRetryDelayMs?: number;
  /** Deadline for one call, polling included (ms). */
  callTimeoutMs: number;
}

/**
 * Clock differences below this are ignored (ms): the HTTP Date header has one-second resolution
 * and network latency adds more, so smaller offsets are noise.
 */
export const CLOCK_SKEW_TOLERANCE_MS = 5_000;

const TLS_ERROR_CODES = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);
const NETWORK_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "REQUEST_SEND_ERROR",
]);

function retryAfterMs(err: {
  response?: { headers?: { get(name: string): string | undefined } };
}): number | undefined {
  const raw = err.response?.headers?.get("retry-after");
  if (!raw) return undefined;
  const secs = Number(raw);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

export class NsgClient {
  /** Azure's clock minus ours (ms), from the Date header of the latest response; 0 within tolerance. */
  private clockOffsetMs = 0;

  private constructor(
    private readonly sdk: NetworkManagementClient,
    readonly target: NsgTarget,
    private readonly opts: NsgClientOptions,
  ) {}

  static async create(target: NsgTarget, opts: NsgClientOptions): Promise<NsgClient> {
    const { NetworkManagementClient } = await import("@azure/arm-network");
    const sdk = new NetworkManagementClient(opts.credential.credential, target.subscriptionId, {
      endpoint: opts.endpoint,
      // Tokens are for the cloud whose Resource Manager we talk to (sovereign clouds differ).
      credentialScopes: [`${opts.endpoint}/.default`],
      retryOptions: { retryDelayInMs: opts.sdkRetryDelayMs ?? 1000 },
      ...(opts.caPem ? { tlsOptions: { ca: opts.caPem } } : {}),
    });
    const client = new NsgClient(sdk, target, opts);
    // Lease expiries are written and judged on Azure's clock, not each laptop's: a client whose clock
    // runs behind would otherwise write leases the janitor on the VM already sees as expired.
    sdk.pipeline.addPolicy({
      name: "tunArmClock",
      sendRequest: async (request, next) => {
        const response = await next(request);
        client.noteServerDate(response.headers.get("date"));
        return response;
      },
    });
    return client;
  }

  /** Current time on Azure's clock (ms since the epoch), as far as the last response told us. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  private noteServerDate(header: string | undefined): void {
    const server = header ? Date.parse(header) : NaN;
    if (!Number.isFinite(server)) return;
    // The header is truncated to the second: compare against the middle of that second.
    const offset = server + 500 - Date.now();
    this.clockOffsetMs = Math.abs(offset) < CLOCK_SKEW_TOLERANCE_MS ? 0 : offset;
  }

  private get nsgLabel(): string {
    return `network security group "${this.target.nsg}" in resource group "${this.target.resourceGroup}"`;
  }

  /** Lists every rule of the NSG (one GET of the NSG, which also proves it exists). */
  async listRules(signal?: AbortSignal): Promise<RuleView[]> {
    const nsg = await this.call("read " + this.nsgLabel, signal, (abortSignal) =>
      this.sdk.networkSecurityGroups.get(this.target.resourceGroup, this.target.nsg, { abortSignal }),
    );
    return (nsg.securityRules ?? []).map(toView);
  }

  async getRule(name: string, signal?: AbortSignal): Promise<RuleView | null> {
    try {
      const rule = await this.call(`read rule ${name}`, signal, (abortSignal) =>
        this.sdk.securityRules.get(this.target.resourceGroup, this.target.nsg, name, { abortSignal }),
      );
      return toView(rule);
    } catch (err) {
      if (err instanceof ArmError && err.kind === "notFound" && err.code === "NotFound") return null;
      throw err;
    }
  }

  async putRule(name: string, rule: SecurityRule, signal?: AbortSignal): Promise<void> {
    await this.call(`write rule ${name}`, signal, async (abortSignal) => {
      const poller = await this.sdk.securityRules.beginCreateOrUpdate(
        this.target.resourceGroup,
        this.target.nsg,
        name,
        rule,
        { updateIntervalInMs: this.opts.pollIntervalMs, abortSignal },
      );
      // Not the ...AndWait helper: it does not pass the abort signal on to the polling loop.
      return poller.pollUntilDone({ abortSignal });
    });
  }

  /** Idempotent: a rule that is already gone counts as deleted. */
  async deleteRule(name: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.call(`delete rule ${name}`, signal, async (abortSignal) => {
        const poller = await this.sdk.securityRules.beginDelete(
          this.target.resourceGroup,
          this.target.nsg,
          name,
          {
            updateIntervalInMs: this.opts.pollIntervalMs,
            abortSignal,
          },
        );
        return poller.pollUntilDone({ abortSignal });
      });
    } catch (err) {
      if (err instanceof ArmError && err.kind === "notFound" && err.code === "NotFound") return;
      throw err;
    }
  }

  /**
   * Runs one SDK call (including its polling) under a deadline, so a dead network or a stuck
   * operation fails within callTimeoutMs instead of hanging a renewal or a teardown.
   */
  private async call<T>(
    what: string,
    signal: AbortSignal | undefined,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const deadline = AbortSignal.timeout(this.opts.callTimeoutMs);
    const combined = signal ? AbortSignal.any([deadline, signal]) : deadline;
    try {
      return await fn(combined);
    } catch (err) {
      if (deadline.aborted && !signal?.aborted) {
        throw new ArmError(
          `could not ${what}: no answer from Azure Resource Manager at ${this.opts.endpoint} within ${formatMs(this.opts.callTimeoutMs)}`,
          "unreachable",
        );
      }
      if (signal?.aborted) throw new ArmError(`${what}: cancelled`, "cancelled");
      throw this.translate(what, err);
    }
  }

  private translate(what: string, err: unknown): ArmError {
    if (err instanceof ArmError) return err;
    const e = err as Error & {
      statusCode?: number;
      code?: string;
      response?: { headers?: { get(name: string): string | undefined } };
      cause?: { code?: string };
    };
    const t = this.target;
    const status = e.statusCode;
    const code = e.code;
    const msg = (e.message ?? String(err)).split("\n")[0]!;
    const fail = `could not ${what}`;
    if (isSignInError(err)) return new ArmError(signInFailureMessage("default"), "auth");

    // A long-running operation that ended Failed arrives as a plain Error naming the code.
    if (status === undefined && /AnotherOperationInProgress/.test(msg)) {
      return new ArmError(
        `${fail}: Azure reports another operation in progress on the NSG`,
        "busy",
        undefined,
        "AnotherOperationInProgress",
      );
    }
    if (status === 409 && code === "AnotherOperationInProgress") {
      return new ArmError(
        `${fail}: Azure reports another operation in progress on the NSG (409)`,
        "busy",
        409,
        code,
      );
    }
    if (status === 429) {
      return new ArmError(
        `${fail}: Azure is throttling requests (429)`,
        "throttled",
        429,
        code,
        retryAfterMs(e),
      );
    }
    if (status === 400 && code === "SecurityRuleConflict") {
      return new ArmError(`${fail}: priority already taken (${msg})`, "conflict", 400, code);
    }
    if (status === 401) {
      if (this.opts.credential.source === "access-token") {
        return new ArmError(
          signInFailureMessage("access-token", `401 ${code ?? ""}`.trim()),
          "auth",
          401,
          code,
        );
      }
      return new ArmError(
        `Azure rejected the signed-in identity (401 ${code ?? ""}: ${msg}); run \`az login\` again or check AZURE_TENANT_ID`,
        "auth",
        401,
        code,
      );
    }
    if (status === 403) {
      return new ArmError(
        `${fail}: the signed-in identity is not allowed to (403 ${code ?? ""}); grant it "Network Contributor" on ${this.nsgLabel}`,
        "forbidden",
        403,
        code,
      );
    }
    if (status === 404) {
      if (code === "SubscriptionNotFound") {
        return new ArmError(
          `Azure subscription "${t.subscriptionId}" not found (or not visible to this identity); check azure.subscriptionId`,
          "notFound",
          404,
          code,
        );
      }
      if (code === "ResourceGroupNotFound") {
        return new ArmError(
          `resource group "${t.resourceGroup}" not found in subscription ${t.subscriptionId}; check azure.resourceGroup`,
          "notFound",
          404,
          code,
        );
      }
      if (code === "ResourceNotFound" && /networkSecurityGroups/i.test(msg)) {
        return new ArmError(
          `network security group "${t.nsg}" not found in resource group "${t.resourceGroup}"; check azure.nsg`,
          "notFound",
          404,
          code,
        );
      }
      return new ArmError(`${fail}: not found`, "notFound", 404, code ?? "NotFound");
    }
    const sysCode = code ?? e.cause?.code;
    if (sysCode && TLS_ERROR_CODES.has(sysCode)) {
      return new ArmError(
        `the TLS certificate of ${this.opts.endpoint} is not trusted (${sysCode}); for a private endpoint add its CA with NODE_EXTRA_CA_CERTS`,
        "unreachable",
        undefined,
        sysCode,
      );
    }
    if (
      (sysCode && NETWORK_ERROR_CODES.has(sysCode)) ||
      (status === undefined && /ECONNREFUSED|ENOTFOUND|ETIMEDOUT/.test(msg))
    ) {
      return new ArmError(
        `cannot reach Azure Resource Manager at ${this.opts.endpoint} (${msg}); check the network or TUN_AZURE_ENDPOINT`,
        "unreachable",
        undefined,
        sysCode,
      );
    }
    return new ArmError(
      `${fail}: ${status ? `${status} ` : ""}${code ? `${code}: ` : ""}${msg}`,
      "other",
      status,
      code,
    );
  }
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Math.round(ms / 1000)}s`;
}

function toView(r: SecurityRule): RuleView {
  return {
    name: r.name ?? "",
    priority: r.priority ?? 0,
    direction: r.direction ?? "",
    access: r.access ?? "",
    description: r.description,
    sourceAddressPrefix: r.sourceAddressPrefix,
    sourceAddressPrefixes: r.sourceAddressPrefixes,
    destinationPortRange: r.destinationPortRange,
    destinationPortRanges: r.destinationPortRanges,
    protocol: r.protocol,
  };
}
