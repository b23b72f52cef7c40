// Every check `tun doctor` runs, in order (each hop after the ones it rides
// on), and the subset `tun up` runs before it makes anything public.
import { existsSync, readFileSync } from "node:fs";
import { requireKeys } from "../config/config.js";
import { UserError } from "../errors.js";
import { localAppListening } from "../tunnel/prove.js";
import { azureChecks } from "./azure-checks.js";
import { fail, pass, type Check } from "./check.js";
import type { DoctorContext } from "./context.js";
import { dnsChecks } from "./dns-checks.js";
import { sshChecks } from "./ssh-checks.js";
import { vmChecks } from "./vm-checks.js";

const configCheck: Check<DoctorContext> = {
  id: "config",
  what: (c) => `config ${c.config.file}`,
  run: async (c) => {
    try {
      requireKeys(c.config, ["host", "user", "domain"]);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      const [detail, fix] = err.message.split("; ");
      return fail(detail!, fix ?? "run tun init");
    }
    const { identityFile, knownHosts } = c.config;
    if (identityFile) {
      try {
        readFileSync(identityFile);
      } catch (err) {
        return fail(
          `identityFile ${identityFile} cannot be read (${(err as NodeJS.ErrnoException).code})`,
          "tun init --identity-file PATH, or leave it empty and use ssh-agent",
        );
      }
    } else if (!c.env.SSH_AUTH_SOCK) {
      return fail(
        "no identityFile and no ssh-agent",
        "tun init --identity-file ~/.ssh/id_ed25519, or start ssh-agent",
      );
    }
    if (!existsSync(knownHosts)) {
      return fail(
        `knownHosts ${knownHosts} does not exist`,
        `ssh-keyscan -p ${c.config.sshPort} ${c.config.host} >> ${knownHosts} after checking the fingerprint`,
      );
    }
    return pass(
      `${c.config.user}@${c.config.host}:${c.config.sshPort}, domain ${c.config.domain}, tls ${c.config.tls}`,
    );
  },
};

const localAppCheck: Check<DoctorContext> = {
  id: "local.app",
  what: (c) => `local app on localhost:${c.localPorts.join(", ") || "?"}`,
  run: async (c) => {
    if (c.localPorts.length === 0) return { skip: "no port given" };
    for (const port of c.localPorts) {
      const err = await localAppListening(port);
      if (err) {
        return fail(
          `nothing is listening on localhost:${port} (${err})`,
          "start your app first, or check the port",
        );
      }
    }
    return pass("accepts connections");
  },
};

export const DOCTOR_CHECKS: readonly Check<DoctorContext>[] = [
  configCheck,
  ...dnsChecks,
  ...sshChecks,
  ...vmChecks,
  ...azureChecks,
];

/**
 * What `tun up` needs before it goes public. Not DNS (labs and tests use
 * addresses), not Azure (opening the lease reports its own failures), not the
 * TLS mode (the proof follows Caddy's listeners whatever the config says).
 */
const PREFLIGHT_IDS = new Set([
  "config",
  "local.app",
  "ssh.reach",
  "ssh.hostkey",
  "ssh.auth",
  "ssh.forward",
  "caddy.admin",
  "caddy.server",
  "sink.health",
]);

export const PREFLIGHT_CHECKS: readonly Check<DoctorContext>[] = [
  configCheck,
  localAppCheck,
  ...DOCTOR_CHECKS.filter((c) => PREFLIGHT_IDS.has(c.id) && c !== configCheck),
];
