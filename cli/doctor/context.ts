// What the doctor's checks share while they run: the config, the resolver,
// the SSH connection once a check has opened it, and local forwards to the
// VM's services over it. close() releases everything the checks opened.
import { Resolver } from "node:dns/promises";
import type { TunConfig } from "../config/config.js";
import type { CaddyHttpApp } from "../tunnel/caddy-admin.js";
import { LocalForward } from "../tunnel/local-forward.js";
import type { SshClient, SshTarget } from "../tunnel/ssh-connect.js";
import { parseHostPort, type HostPort } from "../../protocol/values.js";

/** A DNS answer slower than this counts as no answer (ms). */
export const DNS_TIMEOUT_MS = 5_000;

export interface DoctorContext {
  config: TunConfig;
  /** The tunnel name whose MX record is checked, e.g. "api". */
  name: string;
  /** Local app ports to check (preflight). */
  localPorts: number[];
  resolver: Resolver;
  target: SshTarget;
  /** Addresses of the VM, filled by the host DNS check. */
  vmAddresses: string[];
  client: SshClient | null;
  /** Date header of the sink's health answer and the local time it arrived (clock check). */
  sinkDate: { header: string; localMs: number } | null;
  /** Caddy's HTTP app and the local port of the forward to its admin API, once the admin check passed. */
  caddy: { app: CaddyHttpApp; port: number } | null;
  /** The sink's version, once its health check passed. */
  sinkVersion: string | null;
  forwards: LocalForward[];
  env: NodeJS.ProcessEnv;
}

export function newResolver(server: string | null): Resolver {
  const resolver = new Resolver({ timeout: DNS_TIMEOUT_MS, tries: 1 });
  if (server) resolver.setServers([server]);
  return resolver;
}

export function doctorContext(
  config: TunConfig,
  opts: { name: string; localPorts?: number[]; resolver?: string | null; env?: NodeJS.ProcessEnv },
): DoctorContext {
  return {
    config,
    name: opts.name,
    localPorts: opts.localPorts ?? [],
    resolver: newResolver(opts.resolver ?? null),
    target: {
      // "?" only shows in the names of checks skipped because the config check failed.
      host: config.host ?? "?",
      port: config.sshPort,
      user: config.user ?? "?",
      identityFile: config.identityFile,
      knownHosts: config.knownHosts,
    },
    vmAddresses: [],
    client: null,
    sinkDate: null,
    caddy: null,
    sinkVersion: null,
    forwards: [],
    env: opts.env ?? process.env,
  };
}

/** A listening local forward through the doctor's SSH connection to a VM-local address. */
export async function forwardTo(ctx: DoctorContext, label: string, target: HostPort): Promise<LocalForward> {
  const f = new LocalForward(
    label,
    () => ctx.client,
    () => target,
    ctx.target.user,
  );
  await f.listen();
  ctx.forwards.push(f);
  return f;
}

export function hostPort(value: string): HostPort {
  // The config loader has validated every HOST:PORT value already.
  return parseHostPort(value)!;
}

export async function closeContext(ctx: DoctorContext): Promise<void> {
  for (const f of ctx.forwards.splice(0)) await f.close();
  ctx.client?.end();
  ctx.client = null;
}
