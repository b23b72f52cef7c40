// One named tunnel inside a `tun up` session: its remote forward, its Caddy
// route (holder record, heartbeat, basic auth), the chain proof and its mail
// stream. The session owns what the tunnels share (the SSH link, Caddy's admin
// API, the port-25 lease, the console) and drives each tunnel through it.
import type { BasicAuthCredentials } from "../config/tunnels.js";
import { basicAuthHeader, routeGuard } from "./basic-auth.js";
import type { CaddyAdmin } from "./caddy-admin.js";
import { claimRoute, releaseRoute, type ClaimResult } from "./claim.js";
import type { LocalForward } from "./local-forward.js";
import { ChainError, proveChain } from "./prove.js";
import { RemoteForward } from "./remote-forward.js";
import type { RouteGuard, RouteHolder } from "./route.js";
import type { SshClient } from "./ssh-connect.js";
import type { MailStream } from "./mail-stream.js";

export interface TunnelSpec {
  /** Subdomain, a DNS label. */
  name: string;
  localPort: number;
  basicAuth: BasicAuthCredentials | null;
  /** Issue 14's delivery target; accepted and validated, delivered once the deliver module lands. */
  deliver: string | null;
}

export interface CaddyTarget {
  admin: CaddyAdmin;
  server: string;
  domain: string;
  /** Local forward to Caddy's listener on the VM, how Caddy listens there, and whether it speaks TLS. */
  listener: LocalForward;
  listenText: string;
  tls: boolean;
  /** Of the public URL: "http" with the config's `tls off`. */
  scheme: "http" | "https";
  /** The SSH user, named if sshd refuses the forward. */
  user: string;
}

export class Tunnel {
  readonly publicHost: string;
  readonly remote: RemoteForward;
  /** Local forward to this tunnel's VM port (bypassing Caddy), for the proof. */
  direct: LocalForward | null = null;
  holder: RouteHolder | null = null;
  mail: MailStream | null = null;
  private guard: RouteGuard | null = null;

  constructor(
    readonly spec: TunnelSpec,
    private readonly caddy: CaddyTarget,
  ) {
    this.publicHost = `${spec.name}.${caddy.domain}`;
    this.remote = new RemoteForward(spec.localPort, caddy.user);
  }

  get name(): string {
    return this.spec.name;
  }

  get url(): string {
    return `${this.caddy.scheme}://${this.publicHost}`;
  }

  /** Requests the remote forward on `client`; returns the VM port. Keeps holder/since, re-points the upstream. */
  async forward(client: SshClient, holder: string, since: string): Promise<number> {
    const port = await this.remote.request(client);
    this.holder = { holder, since, upstreamPort: port, heartbeat: this.holder?.heartbeat ?? null };
    return port;
  }

  async claim(o: {
    takeOverOwn: boolean;
    staleMs: number;
    upstreamLive: (port: number) => Promise<boolean>;
  }): Promise<ClaimResult> {
    this.guard ??= await routeGuard(this.spec.basicAuth);
    const result = await claimRoute({
      takeOverOwn: o.takeOverOwn,
      admin: this.caddy.admin,
      server: this.caddy.server,
      name: this.name,
      domain: this.caddy.domain,
      holder: this.holder!,
      guard: this.guard,
      staleMs: o.staleMs,
      upstreamLive: o.upstreamLive,
    });
    this.holder = { ...this.holder!, heartbeat: result.heartbeat };
    return result;
  }

  /** Throws ChainError naming the hop when the chain is broken. */
  prove(certWaitMs: number, onCertWait: () => void): Promise<void> {
    return proveChain({
      publicHost: this.publicHost,
      localPort: this.spec.localPort,
      remote: this.remote,
      caddy: this.caddy.listener,
      caddyListen: this.caddy.listenText,
      caddyTls: this.caddy.tls,
      direct: this.direct!,
      certWaitMs,
      onCertWait,
      authorization: this.spec.basicAuth ? basicAuthHeader(this.spec.basicAuth) : undefined,
    });
  }

  /** Removes the route if it is still ours; returns whether it did. Idempotent. */
  async release(): Promise<boolean> {
    const holder = this.holder;
    this.holder = null;
    if (!holder) return false;
    return releaseRoute(this.caddy.admin, this.caddy.server, this.name, holder);
  }
}

export { ChainError };
