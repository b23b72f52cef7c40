// DNS as the internet sees the tunnel: the VM's host name, a wildcard A record
// for every tunnel name, and an MX record that sends <name>.<domain> mail to
// the VM. Asked through node:dns (the system's resolvers, or --resolver).
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { fail, pass, type Check } from "./check.js";
import type { DoctorContext } from "./context.js";

/** A label no one registers on purpose: a wildcard record is the only way it resolves. */
function probeLabel(): string {
  return `tun-doctor-${randomBytes(4).toString("hex")}`;
}

async function addressesOf(ctx: DoctorContext, name: string): Promise<string[]> {
  if (isIP(name)) return [name];
  const [v4, v6] = await Promise.all([
    ctx.resolver.resolve4(name).catch(() => [] as string[]),
    ctx.resolver.resolve6(name).catch(() => [] as string[]),
  ]);
  return [...v4, ...v6];
}

function dnsFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOTFOUND" || code === "ENODATA") return "no such record";
  return `no answer (${code ?? (err as Error).message})`;
}

const overlaps = (a: string[], b: string[]): boolean => a.some((x) => b.includes(x));

export const dnsChecks: readonly Check<DoctorContext>[] = [
  {
    id: "dns.host",
    needs: ["config"],
    what: (c) => `DNS: VM host ${c.config.host ?? "?"}`,
    run: async (c) => {
      const host = c.config.host!;
      if (isIP(host)) {
        c.vmAddresses = [host];
        return pass("an IP address, nothing to resolve");
      }
      const addrs = await addressesOf(c, host);
      if (addrs.length === 0) {
        return fail(
          "does not resolve",
          `add an A record ${host} -> the VM's public address at your DNS provider (docs/deploy.md, step 3)`,
        );
      }
      c.vmAddresses = addrs;
      return pass(addrs.join(", "));
    },
  },
  {
    id: "dns.wildcard",
    needs: ["dns.host"],
    what: (c) => `DNS: wildcard *.${c.config.domain ?? "?"}`,
    run: async (c) => {
      const name = `${probeLabel()}.${c.config.domain}`;
      const addrs = await addressesOf(c, name);
      const vm = c.vmAddresses.join(", ");
      if (addrs.length === 0) {
        return fail(
          `${name} does not resolve`,
          `add an A record *.${c.config.domain} -> ${vm} at your DNS provider`,
        );
      }
      if (!overlaps(addrs, c.vmAddresses)) {
        return fail(
          `${name} resolves to ${addrs.join(", ")}, not the VM (${vm})`,
          `point *.${c.config.domain} at ${vm}`,
        );
      }
      return pass(`resolves to the VM (${addrs.join(", ")})`);
    },
  },
  {
    id: "dns.mx",
    needs: ["dns.host"],
    what: (c) => `DNS: MX for ${c.name}.${c.config.domain ?? "?"}`,
    run: async (c) => {
      const name = `${c.name}.${c.config.domain}`;
      const fix = `add an MX record *.${c.config.domain} -> 10 ${c.config.host}. at your DNS provider`;
      let mx: { exchange: string; priority: number }[];
      try {
        mx = await c.resolver.resolveMx(name);
      } catch (err) {
        return fail(dnsFailure(err), fix);
      }
      if (mx.length === 0) return fail("no MX record", fix);
      const best = [...mx].sort((a, b) => a.priority - b.priority)[0]!;
      const addrs = await addressesOf(c, best.exchange);
      if (!overlaps(addrs, c.vmAddresses)) {
        return fail(
          `mail goes to ${best.exchange} (${addrs.join(", ") || "does not resolve"}), not the VM (${c.vmAddresses.join(", ")})`,
          fix,
        );
      }
      return pass(`${best.priority} ${best.exchange} -> the VM`);
    },
  },
];
