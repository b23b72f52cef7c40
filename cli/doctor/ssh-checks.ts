// SSH, hop by hop: the port answers, the host key is the one in known_hosts,
// the login works, and sshd lets this user forward ports both ways (members
// of the VM's `tun` group may; everyone else gets `AllowTcpForwarding no`).
import ssh2 from "ssh2";
import { UserError } from "../errors.js";
import { forwardRefusedMessage, isForwardRefusal } from "../tunnel/forward-refusal.js";
import {
  keysFor,
  knownHostsName,
  preferredHostKeyAlgorithms,
  readKnownHosts,
  refusalMessage,
  verifyHostKey,
  type HostKeyVerdict,
} from "../tunnel/known-hosts.js";
import { tcpListening } from "../tunnel/prove.js";
import { connectSsh, loadCredentials, type SshClient } from "../tunnel/ssh-connect.js";
import { linkTunables } from "../tunnel/tunables.js";
import { CompleteFailure, fail, firstLine, pass, type Check } from "./check.js";
import { hostPort, type DoctorContext } from "./context.js";

/** How long the doctor waits for a host key or a forward answer (ms). */
const SSH_STEP_TIMEOUT_MS = 10_000;
const REMOTE_BIND_ADDR = "127.0.0.1";

/** Runs the SSH handshake only as far as the host key, and judges it against known_hosts. */
function presentedKey(c: DoctorContext): Promise<HostKeyVerdict | string> {
  const { host, port, knownHosts } = c.target;
  const known = keysFor(readKnownHosts(knownHosts), knownHostsName(host, port));
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    let verdict: HostKeyVerdict | null = null;
    const timer = setTimeout(() => {
      client.end();
      resolve("no host key within the timeout");
    }, SSH_STEP_TIMEOUT_MS);
    const done = (v: HostKeyVerdict | string) => {
      clearTimeout(timer);
      client.end();
      resolve(v);
    };
    client.on("error", (err) => done(verdict ?? firstLine(err.message)));
    client.on("ready", () => done(verdict ?? "no host key seen"));
    client.connect({
      host,
      port,
      // A user name is required by the protocol; authentication is never reached.
      username: c.target.user || "tun-doctor",
      algorithms: { serverHostKey: preferredHostKeyAlgorithms(known) as never },
      readyTimeout: SSH_STEP_TIMEOUT_MS,
      hostVerifier: (key: Buffer) => {
        verdict = verifyHostKey(known, key);
        // Stop right here: whatever the verdict, the check has what it needs.
        setImmediate(() => done(verdict!));
        return false;
      },
    });
  });
}

function remoteForwardAllowed(client: SshClient): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), SSH_STEP_TIMEOUT_MS);
    client.forwardIn(REMOTE_BIND_ADDR, 0, (err, port) => {
      clearTimeout(timer);
      if (err) return resolve(false);
      client.unforwardIn(REMOTE_BIND_ADDR, port, () => resolve(true));
    });
  });
}

/** True when sshd opens (or tries to open) a direct-tcpip channel; false when its policy refuses it. */
function localForwardAllowed(client: SshClient, host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), SSH_STEP_TIMEOUT_MS);
    client.forwardOut("127.0.0.1", 0, host, port, (err, channel) => {
      clearTimeout(timer);
      if (!err) channel.close();
      // "Connection refused" from the target is the service's business (its own check), not sshd's.
      resolve(!err || !isForwardRefusal(err));
    });
  });
}

export const sshChecks: readonly Check<DoctorContext>[] = [
  {
    id: "ssh.reach",
    needs: ["config"],
    what: (c) => `SSH port ${c.target.host}:${c.target.port}`,
    run: async (c) => {
      const err = await tcpListening(c.target.host, c.target.port);
      if (!err) return pass("accepts connections");
      return fail(
        `cannot connect (${err})`,
        `check that the VM runs and that its NSG allows port ${c.target.port} from your address (sshSourcePrefix)`,
      );
    },
  },
  {
    id: "ssh.hostkey",
    needs: ["ssh.reach"],
    what: (c) => `SSH host key of ${knownHostsName(c.target.host, c.target.port)} in ${c.target.knownHosts}`,
    run: async (c) => {
      const v = await presentedKey(c);
      if (typeof v === "string") return fail(v, "check sshPort: something else may answer there");
      if (v.status === "known") return pass("matches");
      // refusalMessage says what is wrong and ends with the command that fixes it.
      const text = refusalMessage(v, c.target.host, c.target.port, c.target.knownHosts);
      const m = /[;.] (?=(?:if|If|Ask) )/.exec(text);
      return m
        ? fail(text.slice(0, m.index), text.slice(m.index + 2))
        : fail(text, "verify the fingerprint on the VM's console, then update known_hosts");
    },
  },
  {
    id: "ssh.auth",
    needs: ["ssh.hostkey"],
    what: (c) => `SSH login as ${c.target.user}@${c.target.host}:${c.target.port}`,
    run: async (c) => {
      try {
        const creds = await loadCredentials(c.target, c.env);
        c.client = await connectSsh(c.target, creds, linkTunables(c.env));
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        throw new CompleteFailure(firstLine(err.message), err.exitCode);
      }
      c.client.on("error", () => {}); // a later drop shows up in the checks that use it
      return pass(c.config.identityFile ? `key ${c.config.identityFile}` : "key from ssh-agent");
    },
  },
  {
    id: "ssh.forward",
    needs: ["ssh.auth"],
    what: (c) => `port forwarding for ${c.target.user} (the tun group)`,
    run: async (c) => {
      const admin = hostPort(c.config.caddyAdmin);
      const [remote, local] = await Promise.all([
        remoteForwardAllowed(c.client!),
        localForwardAllowed(c.client!, admin.host, admin.port),
      ]);
      if (remote && local) return pass("remote and local forwards allowed");
      const which = !remote && !local ? "both directions" : remote ? "local forwards" : "remote forwards";
      return fail(
        `${forwardRefusedMessage(c.target.user).replace(/ \(on the VM:.*$/, "")} (refused: ${which})`,
        `on the VM: sudo usermod -aG tun ${c.target.user} (or add ${c.target.user} to TUN_USERS in /etc/tun/install.env and run infra/install.sh); sshd needs "AllowTcpForwarding yes" for the tun group`,
      );
    },
  },
];
