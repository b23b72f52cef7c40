// One SSH connection to the tunnel VM: credentials (agent or identity file,
// passphrase on a terminal), known_hosts verification, keepalive. Failures
// become one UserError line that says which part failed and how to fix it.
import { readFileSync } from "node:fs";
import ssh2 from "ssh2";
import type { ConnectConfig } from "ssh2";
import { EXIT_FAILURE, EXIT_UNREACHABLE, UserError } from "../errors.js";
import {
  keysFor,
  knownHostsName,
  preferredHostKeyAlgorithms,
  readKnownHosts,
  refusalMessage,
  verifyHostKey,
  type HostKeyVerdict,
} from "./known-hosts.js";
import { ask, canPrompt } from "./prompt.js";
import type { LinkTunables } from "./tunables.js";

const { Client, utils } = ssh2;
export type SshClient = InstanceType<typeof Client>;

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  identityFile: string | null;
  knownHosts: string;
}

export interface Credentials {
  agent: string | undefined;
  privateKey: Buffer | undefined;
  passphrase: string | undefined;
}

/**
 * Resolves credentials once per `tun` run (so a passphrase is asked at most
 * once, not on every reconnect).
 */
export function loadCredentials(target: SshTarget, env = process.env): Promise<Credentials> {
  // Memoised per key file: `tun up`'s preflight and its session must not ask for a passphrase twice.
  const key = `${target.identityFile ?? ""}\0${env.SSH_AUTH_SOCK ?? ""}`;
  let loaded = credentialsByKey.get(key);
  if (!loaded) {
    loaded = readCredentials(target, env);
    credentialsByKey.set(key, loaded);
    loaded.catch(() => credentialsByKey.delete(key));
  }
  return loaded;
}

const credentialsByKey = new Map<string, Promise<Credentials>>();

async function readCredentials(target: SshTarget, env: NodeJS.ProcessEnv): Promise<Credentials> {
  const agent = env.SSH_AUTH_SOCK || undefined;
  if (!target.identityFile) {
    if (!agent) {
      throw new UserError(
        `no SSH credentials: set "identityFile" (tun init --identity-file ~/.ssh/id_ed25519) or start ssh-agent so SSH_AUTH_SOCK is set`,
      );
    }
    return { agent, privateKey: undefined, passphrase: undefined };
  }
  let privateKey: Buffer;
  try {
    privateKey = readFileSync(target.identityFile);
  } catch (err) {
    throw new UserError(`cannot read identity file ${target.identityFile}: ${(err as Error).message}`);
  }
  const parsed = utils.parseKey(privateKey);
  if (!(parsed instanceof Error)) return { agent, privateKey, passphrase: undefined };
  if (!/passphrase/i.test(parsed.message)) {
    throw new UserError(
      `identity file ${target.identityFile} is not a usable private key: ${parsed.message}`,
    );
  }
  if (!canPrompt()) {
    // An agent may hold the decrypted key; only fail if there is no other way in.
    if (agent) return { agent, privateKey: undefined, passphrase: undefined };
    throw new UserError(
      `identity file ${target.identityFile} is encrypted and there is no terminal to ask for its passphrase; ` +
        `load it into ssh-agent (ssh-add ${target.identityFile}) or run tun in a terminal`,
    );
  }
  const passphrase = await ask(`Passphrase for ${target.identityFile}: `, { hidden: true });
  const check = utils.parseKey(privateKey, passphrase);
  if (check instanceof Error) {
    throw new UserError(`wrong passphrase for ${target.identityFile} (${check.message})`);
  }
  return { agent, privateKey, passphrase };
}

function describeConnectError(err: Error & { code?: string; level?: string }, target: SshTarget): string {
  const where = `${target.host}:${target.port}`;
  if (err.code === "ECONNREFUSED") return `cannot connect to SSH at ${where}: connection refused`;
  if (err.code === "ENOTFOUND" || err.code === "EAI_AGAIN") return `cannot resolve SSH host ${target.host}`;
  if (err.code === "ETIMEDOUT" || /Timed out/.test(err.message))
    return `cannot connect to SSH at ${where}: timed out`;
  if (err.level === "client-authentication") {
    return `SSH login as ${target.user}@${where} failed: the VM accepted none of the offered keys; add your public key to ~${target.user}/.ssh/authorized_keys on the VM`;
  }
  return `SSH connection to ${where} failed: ${err.message}`;
}

/** Opens one connection; resolves once it is ready (authenticated). */
export function connectSsh(
  target: SshTarget,
  creds: Credentials,
  tunables: LinkTunables,
): Promise<SshClient> {
  const known = keysFor(readKnownHosts(target.knownHosts), knownHostsName(target.host, target.port));
  let verdict: HostKeyVerdict | null = null;
  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.user,
    agent: creds.agent,
    privateKey: creds.privateKey,
    passphrase: creds.passphrase,
    keepaliveInterval: tunables.keepaliveIntervalMs,
    keepaliveCountMax: tunables.keepaliveCountMax,
    readyTimeout: tunables.readyTimeoutMs,
    algorithms: { serverHostKey: preferredHostKeyAlgorithms(known) as never },
    hostVerifier: (key: Buffer) => {
      verdict = verifyHostKey(known, key);
      return verdict.status === "known";
    },
  };
  return new Promise((resolve, reject) => {
    const client = new Client();
    let settled = false;
    // ssh2 can emit several errors for one failed attempt (e.g. a timeout, then
    // "Connection lost before handshake"); later ones, and errors after "ready"
    // (always followed by "close", which the link handles), must not crash us.
    client.on("error", (err: Error & { code?: string; level?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      const v = verdict as HostKeyVerdict | null;
      if (v && v.status !== "known") {
        reject(new UserError(refusalMessage(v, target.host, target.port, target.knownHosts)));
        return;
      }
      // Refused logins are the user's to fix (exit 1); network failures exit 3.
      const code = err.level === "client-authentication" ? EXIT_FAILURE : EXIT_UNREACHABLE;
      reject(new UserError(describeConnectError(err, target), code));
    });
    client.once("ready", () => {
      if (settled) return;
      settled = true;
      resolve(client);
    });
    client.connect(config);
  });
}
