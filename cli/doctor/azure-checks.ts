// The port-25 gate's side of Azure: a credential that signs in, an NSG this
// identity may read, a free priority in the lease range, and no expired lease
// rule left behind (it would keep port 25 open until a sweep).
import { azureConfigured } from "../config/config.js";
import { ArmError } from "../port25/arm-client.js";
import { resolveCredential, signInFailureMessage } from "../port25/credentials.js";
import type { LeaseView } from "../port25/lease.js";
import type { RuleView } from "../port25/arm-client.js";
import { resolveArmSettings } from "../port25/settings.js";
import { fail, firstLine, pass, type Check } from "./check.js";
import type { DoctorContext } from "./context.js";

/** The scope the Azure SDK asks tokens for, whatever the endpoint. */
const ARM_SCOPE = "https://management.azure.com/.default";

export interface AzureState {
  leases: LeaseView[];
  rules: RuleView[];
}

const state = new WeakMap<DoctorContext, AzureState>();

export const azureChecks: readonly Check<DoctorContext>[] = [
  {
    id: "azure.credential",
    needs: ["config"],
    what: () => "Azure credential",
    run: async (c) => {
      if (!azureConfigured(c.config)) return { skip: "azure.* not configured: the port-25 gate is off" };
      const settings = resolveArmSettings(c.env);
      const cred = await resolveCredential(settings.accessToken);
      try {
        await cred.credential.getToken(ARM_SCOPE);
      } catch (err) {
        const text = signInFailureMessage(cred.source, firstLine((err as Error).message));
        const cut = text.indexOf("; ");
        return fail(text.slice(0, cut), text.slice(cut + 2));
      }
      return pass(
        cred.source === "access-token" ? "TUN_AZURE_ACCESS_TOKEN" : "signed in (DefaultAzureCredential)",
      );
    },
  },
  {
    id: "azure.nsg",
    needs: ["azure.credential"],
    what: (c) => `NSG ${c.config.azure.nsg ?? "?"} in ${c.config.azure.resourceGroup ?? "?"} readable`,
    run: async (c) => {
      const { createGateContext } = await import("../port25/context.js");
      const { listLeases } = await import("../port25/lease.js");
      try {
        const gate = await createGateContext(c.config, { log: () => {}, env: c.env });
        state.set(c, await listLeases({ ...gate.lease, retry: { ...gate.lease.retry, attempts: 1 } }));
      } catch (err) {
        if (!(err instanceof ArmError)) throw err;
        const fix =
          err.kind === "forbidden"
            ? `give your identity read and rule rights on the NSG: az role assignment create --assignee <you> --role "Network Contributor" --scope <the NSG's id>`
            : err.kind === "notFound"
              ? `fix azure.subscriptionId, azure.resourceGroup or azure.nsg in ${c.config.file}`
              : "see the message";
        return fail(firstLine(err.message), fix);
      }
      return pass(`${state.get(c)!.rules.length} rules`);
    },
  },
  {
    id: "azure.priorities",
    needs: ["azure.nsg"],
    what: (c) => `free priorities in ${c.config.azure.priorityRange.join("-")}`,
    run: async (c) => {
      const [lo, hi] = c.config.azure.priorityRange;
      const used = new Set(
        state
          .get(c)!
          .rules.filter((r) => r.direction === "Inbound" && r.priority >= lo && r.priority <= hi)
          .map((r) => r.priority),
      );
      const free = hi - lo + 1 - used.size;
      if (free > 0) return pass(`${free} of ${hi - lo + 1} free`);
      return fail(
        "every priority in the range is taken",
        `remove stale rules (tun port25 sweep) or widen azure.priorityRange in ${c.config.file}`,
      );
    },
  },
  {
    id: "azure.expired",
    needs: ["azure.nsg"],
    what: () => "expired port-25 leases",
    run: async (c) => {
      const expired = state.get(c)!.leases.filter((l) => l.expired);
      if (expired.length === 0) return pass("none");
      return fail(
        `${expired.map((l) => l.rule).join(", ")} expired but still present (port 25 stays open)`,
        "tun port25 sweep; and check the janitor on the VM: systemctl list-timers tun-janitor.timer",
      );
    },
  },
];
