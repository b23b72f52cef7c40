// A small fake Azure Resource Manager for the port-25 gate: one subscription,
// one resource group, one NSG and its security rules, served over HTTPS with a
// self-signed certificate generated per instance, so the Azure SDK runs its
// unchanged production path (bearer token over TLS, Azure-AsyncOperation LRO
// polling, 429 Retry-After handling). It answers like real ARM: errors are
// `{ error: { code, message } }`, missing resource groups / NSGs are 404 with
// Azure's codes, a second inbound rule on a taken priority is 400
// SecurityRuleConflict. Faults can be injected per request.
//
// Reuse: `const arm = await startFakeArm()`, then give a child process
// `arm.env()` (TUN_AZURE_* + NODE_EXTRA_CA_CERTS), or an in-process SDK client
// `tlsOptions: { ca: arm.caPem }`.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import selfsigned from "selfsigned";

/** A security rule as stored (flattened `properties`). */
export interface FakeRule {
  name: string;
  priority: number;
  direction: "Inbound" | "Outbound";
  access: "Allow" | "Deny";
  protocol: string;
  description?: string;
  sourceAddressPrefix?: string;
  sourceAddressPrefixes?: string[];
  sourcePortRange?: string;
  destinationAddressPrefix?: string;
  destinationPortRange?: string;
  provisioningState?: string;
}

/** Short name used by other tests. */
export type Rule = FakeRule;

export type FakeMethod = "GET" | "PUT" | "DELETE";

/** Injected failures; each applies to the next `times` (default 1) matching requests. */
export type Fault =
  /** 409 AnotherOperationInProgress on the request itself. */
  | { type: "busy"; method?: FakeMethod; times?: number }
  /** 429 TooManyRequests with `Retry-After: retryAfterSeconds` (omit the header with null). */
  | { type: "throttle"; retryAfterSeconds: number | null; method?: FakeMethod; times?: number }
  /** Request accepted (201/202), but the async operation ends Failed with AnotherOperationInProgress. */
  | { type: "lroFailed"; method?: "PUT" | "DELETE"; times?: number }
  /** A PUT asking for this priority gets 400 SecurityRuleConflict even if it is free. */
  | { type: "priorityConflict"; priority: number; times?: number }
  /** No answer at all (a dead network or a stuck front end); the connection stays open until stop(). */
  | { type: "hang"; method?: FakeMethod; times?: number }
  /** Any other ARM error, e.g. 403 AuthorizationFailed or 500 InternalServerError. */
  | { type: "error"; status: number; code: string; message?: string; method?: FakeMethod; times?: number };

export interface FakeArmRequest {
  method: string;
  path: string;
  status: number;
  at: number;
}

export interface FakeArmOptions {
  subscriptionId?: string;
  resourceGroup?: string;
  nsg?: string;
  /** The bearer token the fake accepts; anything else is 401. */
  token?: string;
  /** How many status polls answer InProgress before the operation ends. */
  inProgressPolls?: number;
  /** The fake's clock (its Date header) runs this far ahead of the machine's (ms; negative: behind). */
  clockSkewMs?: number;
}

export interface FakeArm {
  /** e.g. https://127.0.0.1:40123 — the SDK's `endpoint` / TUN_AZURE_ENDPOINT. */
  endpoint: string;
  /** PEM file of the self-signed certificate (for NODE_EXTRA_CA_CERTS). */
  caFile: string;
  caPem: string;
  token: string;
  subscriptionId: string;
  resourceGroup: string;
  nsg: string;
  /** Current rules of the NSG (copies). */
  rules(): FakeRule[];
  /** Adds or replaces a rule directly (e.g. another team's rule, or a lease that expired long ago). */
  seedRule(rule: Partial<FakeRule> & { name: string; priority: number }): void;
  inject(fault: Fault): void;
  /** Faults still pending. */
  pendingFaults(): number;
  /** Every request answered so far, in order. */
  requests(): FakeArmRequest[];
  /** Environment for a `tun` child process pointed at this fake. */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

const API_PATH_PREFIX = "/subscriptions/";
const LOCATION = "westeurope";

interface Operation {
  id: string;
  pollsLeft: number;
  fail: boolean;
  /** Undo for a failed operation (real Azure leaves the old state in place). */
  revert: () => void;
  finish: () => void;
}

interface ArmErrorBody {
  status: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
}

export async function startFakeArm(opts: FakeArmOptions = {}): Promise<FakeArm> {
  const subscriptionId = opts.subscriptionId ?? "00000000-0000-0000-0000-00000000f4ce";
  const resourceGroup = opts.resourceGroup ?? "tun-rg";
  const nsg = opts.nsg ?? "tun-vm-nsg";
  const token = opts.token ?? "fake-arm-token";
  const inProgressPolls = opts.inProgressPolls ?? 1;
  const clockSkewMs = opts.clockSkewMs ?? 0;

  const pems = await selfsigned.generate([{ name: "commonName", value: "fake-arm.test" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    extensions: [
      { name: "basicConstraints", cA: true },
      { name: "keyUsage", digitalSignature: true, keyCertSign: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 7, ip: "127.0.0.1" },
          { type: 2, value: "localhost" },
        ],
      },
    ],
  });
  const dir = mkdtempSync(join(tmpdir(), "tun-fake-arm-"));
  const caFile = join(dir, "fake-arm-ca.pem");
  writeFileSync(caFile, pems.cert);

  const rules = new Map<string, FakeRule>();
  const faults: Array<Fault & { left: number }> = [];
  const operations = new Map<string, Operation>();
  const log: FakeArmRequest[] = [];
  let endpoint = "";

  const nsgId = () =>
    `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Network/networkSecurityGroups/${nsg}`;
  const ruleJson = (r: FakeRule) => {
    const { name, ...props } = r;
    return {
      name,
      id: `${nsgId()}/securityRules/${name}`,
      etag: `W/"${randomUUID()}"`,
      type: "Microsoft.Network/networkSecurityGroups/securityRules",
      properties: { provisioningState: "Succeeded", ...props },
    };
  };

  const takeFault = (pred: (f: Fault) => boolean): Fault | undefined => {
    const i = faults.findIndex(pred);
    if (i < 0) return undefined;
    const f = faults[i]!;
    if (--f.left <= 0) faults.splice(i, 1);
    return f;
  };

  const startOperation = (fail: boolean, revert: () => void, finish: () => void): string => {
    const id = randomUUID();
    operations.set(id, { id, pollsLeft: inProgressPolls, fail, revert, finish });
    return `${endpoint}/subscriptions/${subscriptionId}/providers/Microsoft.Network/locations/${LOCATION}/operations/${id}?api-version=2025-05-01`;
  };

  const send = (
    res: ServerResponse,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ): number => {
    const text = body === undefined ? "" : JSON.stringify(body);
    res.writeHead(status, {
      ...(text ? { "content-type": "application/json; charset=utf-8" } : {}),
      "x-ms-request-id": randomUUID(),
      date: new Date(Date.now() + clockSkewMs).toUTCString(),
      ...headers,
    });
    res.end(text);
    return status;
  };
  const fail = (e: ArmErrorBody): never => {
    throw e;
  };

  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    if (!text) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return fail({
        status: 400,
        code: "InvalidRequestContent",
        message: "The request content was invalid.",
      });
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const url = new URL(req.url ?? "/", "https://fake");
    const method = (req.method ?? "GET").toUpperCase();
    const auth = req.headers.authorization;
    if (!auth) {
      return respondError(res, {
        status: 401,
        code: "AuthenticationFailed",
        message: "Authentication failed. The 'Authorization' header is missing.",
      });
    }
    if (auth !== `Bearer ${token}`) {
      return respondError(res, {
        status: 401,
        code: "InvalidAuthenticationToken",
        message: "The access token is invalid.",
        headers: {
          "www-authenticate":
            'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="The access token is invalid."',
        },
      });
    }
    if (!url.pathname.startsWith(API_PATH_PREFIX) || !url.searchParams.get("api-version")) {
      return respondError(res, {
        status: 400,
        code: "MissingApiVersionParameter",
        message: "The api-version query parameter (?api-version=) is required for all requests.",
      });
    }

    const m = method as FakeMethod;
    const fault = takeFault(
      (f) =>
        (f.type === "busy" || f.type === "throttle" || f.type === "error" || f.type === "hang") &&
        (f.method === undefined || f.method === m),
    );
    if (fault?.type === "hang")
      return new Promise<number>((resolve) => req.socket.once("close", () => resolve(0)));
    if (fault?.type === "error") {
      return respondError(res, {
        status: fault.status,
        code: fault.code,
        message: fault.message ?? `Injected ${fault.code}.`,
      });
    }
    if (fault?.type === "busy") {
      return respondError(res, {
        status: 409,
        code: "AnotherOperationInProgress",
        message: `Another operation on this or dependent resource is in progress. To retrieve status of the operation use uri: ${endpoint}/subscriptions/${subscriptionId}/providers/Microsoft.Network/locations/${LOCATION}/operations/${randomUUID()}?api-version=2025-05-01.`,
      });
    }
    if (fault?.type === "throttle") {
      return respondError(res, {
        status: 429,
        code: "TooManyRequests",
        message: "The request is being throttled.",
        headers: fault.retryAfterSeconds === null ? {} : { "retry-after": String(fault.retryAfterSeconds) },
      });
    }

    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const lower = parts.map((p) => p.toLowerCase());
    // Operation status: /subscriptions/{s}/providers/Microsoft.Network/locations/{l}/operations/{id}
    if (
      lower[2] === "providers" &&
      lower[4] === "locations" &&
      lower[6] === "operations" &&
      parts.length === 8
    ) {
      const op = operations.get(parts[7]!);
      if (!op) return respondError(res, { status: 404, code: "NotFound", message: "Operation not found." });
      if (op.pollsLeft-- > 0) return send(res, 200, { status: "InProgress" });
      operations.delete(op.id);
      if (op.fail) {
        op.revert();
        send(res, 200, {
          status: "Failed",
          error: {
            code: "AnotherOperationInProgress",
            message: `Operation ${op.id} failed: another operation on this or dependent resource is in progress.`,
          },
        });
        return 200;
      }
      op.finish();
      return send(res, 200, { status: "Succeeded" });
    }

    if (parts[1] !== subscriptionId) {
      return respondError(res, {
        status: 404,
        code: "SubscriptionNotFound",
        message: `The subscription '${parts[1]}' could not be found.`,
      });
    }
    if (lower[2] !== "resourcegroups" || parts[3] === undefined) {
      return respondError(res, { status: 404, code: "NotFound", message: "Not found." });
    }
    if (parts[3].toLowerCase() !== resourceGroup.toLowerCase()) {
      return respondError(res, {
        status: 404,
        code: "ResourceGroupNotFound",
        message: `Resource group '${parts[3]}' could not be found.`,
      });
    }
    if (
      lower[4] !== "providers" ||
      lower[5] !== "microsoft.network" ||
      lower[6] !== "networksecuritygroups"
    ) {
      return respondError(res, { status: 404, code: "NotFound", message: "Not found." });
    }
    if (parts[7]?.toLowerCase() !== nsg.toLowerCase()) {
      return respondError(res, {
        status: 404,
        code: "ResourceNotFound",
        message: `The Resource 'Microsoft.Network/networkSecurityGroups/${parts[7]}' under resource group '${parts[3]}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
      });
    }

    // GET the NSG itself.
    if (parts.length === 8) {
      if (method !== "GET") return methodNotAllowed(res);
      send(res, 200, {
        name: nsg,
        id: nsgId(),
        location: LOCATION,
        type: "Microsoft.Network/networkSecurityGroups",
        properties: { provisioningState: "Succeeded", securityRules: [...rules.values()].map(ruleJson) },
      });
      return 200;
    }
    if (lower[8] !== "securityrules")
      return respondError(res, { status: 404, code: "NotFound", message: "Not found." });

    // LIST rules.
    if (parts.length === 9) {
      if (method !== "GET") return methodNotAllowed(res);
      send(res, 200, { value: [...rules.values()].map(ruleJson) });
      return 200;
    }
    if (parts.length !== 10)
      return respondError(res, { status: 404, code: "NotFound", message: "Not found." });
    const name = parts[9]!;
    const key = name.toLowerCase();

    if (method === "GET") {
      const rule = rules.get(key);
      if (!rule) {
        return respondError(res, {
          status: 404,
          code: "NotFound",
          message: `Resource ${nsgId()}/securityRules/${name} not found.`,
        });
      }
      send(res, 200, ruleJson(rule));
      return 200;
    }

    if (method === "DELETE") {
      const old = rules.get(key);
      if (!old) return send(res, 204);
      const lroFault = takeFault(
        (f) => f.type === "lroFailed" && (f.method === undefined || f.method === "DELETE"),
      );
      rules.set(key, { ...old, provisioningState: "Deleting" });
      // Real Azure removes the rule when the operation completes; a failed operation leaves it.
      const opUrl = startOperation(
        lroFault !== undefined,
        () => rules.set(key, old),
        () => rules.delete(key),
      );
      send(res, 202, undefined, { "azure-asyncoperation": opUrl, location: opUrl });
      return 202;
    }

    if (method === "PUT") {
      const body = (await readBody(req)) as { properties?: Partial<FakeRule> } | undefined;
      const p = body?.properties;
      if (!p || typeof p.priority !== "number" || !p.direction || !p.access || !p.protocol) {
        return respondError(res, {
          status: 400,
          code: "InvalidRequestFormat",
          message: "Security rule must have priority, direction, access and protocol.",
        });
      }
      if (p.priority < 100 || p.priority > 4096) {
        return respondError(res, {
          status: 400,
          code: "SecurityRuleInvalidPriority",
          message: `Security rule has invalid Priority ${p.priority}. Value provided: ${p.priority} Allowed range 100-4096.`,
        });
      }
      if ((p.description?.length ?? 0) > 140) {
        return respondError(res, {
          status: 400,
          code: "SecurityRuleParameterContainsUnsupportedValue",
          message: `Security rule parameter Description for rule with Id ${nsgId()}/securityRules/${name} exceeds the maximum length of 140 characters.`,
        });
      }
      const clash = [...rules.values()].find(
        (r) => r.name.toLowerCase() !== key && r.priority === p.priority && r.direction === p.direction,
      );
      const forced = takeFault((f) => f.type === "priorityConflict" && f.priority === p.priority);
      if (clash || forced) {
        const other = clash?.name ?? "tun-other-rule";
        return respondError(res, {
          status: 400,
          code: "SecurityRuleConflict",
          message: `Security rule ${name} conflicts with rule ${other}. Rules cannot have the same Priority and Direction. To learn more, see aka.ms/nsgrules.`,
        });
      }
      const old = rules.get(key);
      const next: FakeRule = {
        name,
        priority: p.priority,
        direction: p.direction,
        access: p.access,
        protocol: p.protocol,
        description: p.description,
        sourceAddressPrefix: p.sourceAddressPrefix,
        sourceAddressPrefixes: p.sourceAddressPrefixes,
        sourcePortRange: p.sourcePortRange,
        destinationAddressPrefix: p.destinationAddressPrefix,
        destinationPortRange: p.destinationPortRange,
        provisioningState: "Updating",
      };
      const lroFault = takeFault(
        (f) => f.type === "lroFailed" && (f.method === undefined || f.method === "PUT"),
      );
      rules.set(key, next);
      const opUrl = startOperation(
        lroFault !== undefined,
        () => (old ? rules.set(key, old) : rules.delete(key)),
        () => {
          const cur = rules.get(key);
          if (cur) cur.provisioningState = "Succeeded";
        },
      );
      const status = old ? 200 : 201;
      send(res, status, ruleJson(next), { "azure-asyncoperation": opUrl });
      return status;
    }
    return methodNotAllowed(res);
  };

  function respondError(res: ServerResponse, e: ArmErrorBody): number {
    send(res, e.status, { error: { code: e.code, message: e.message } }, e.headers);
    return e.status;
  }
  function methodNotAllowed(res: ServerResponse): number {
    return respondError(res, {
      status: 405,
      code: "MethodNotAllowed",
      message: "The requested resource does not support this method.",
    });
  }

  const server: Server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const at = Date.now();
    handle(req, res)
      .then((status) => log.push({ method: req.method ?? "", path: req.url ?? "", status, at }))
      .catch((err: unknown) => {
        const e =
          err && typeof err === "object" && "status" in err
            ? (err as ArmErrorBody)
            : { status: 500, code: "InternalServerError", message: String(err) };
        log.push({ method: req.method ?? "", path: req.url ?? "", status: e.status, at });
        if (!res.headersSent) respondError(res, e);
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    caFile,
    caPem: pems.cert,
    token,
    subscriptionId,
    resourceGroup,
    nsg,
    rules: () => [...rules.values()].map((r) => structuredClone(r)),
    seedRule: (r) => {
      rules.set(r.name.toLowerCase(), {
        direction: "Inbound",
        access: "Allow",
        protocol: "Tcp",
        sourcePortRange: "*",
        destinationAddressPrefix: "*",
        provisioningState: "Succeeded",
        ...r,
      });
    },
    inject: (f) => void faults.push({ ...f, left: f.times ?? 1 }),
    pendingFaults: () => faults.length,
    requests: () => [...log],
    env: () => ({
      TUN_AZURE_ENDPOINT: endpoint,
      TUN_AZURE_ACCESS_TOKEN: token,
      TUN_AZURE_SUBSCRIPTION_ID: subscriptionId,
      TUN_AZURE_RESOURCE_GROUP: resourceGroup,
      TUN_AZURE_NSG: nsg,
      NODE_EXTRA_CA_CERTS: caFile,
    }),
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
