// One `tun up` session: SSH link, remote forward, Caddy route, chain proof,
// mail stream and port-25 lease, re-established after reconnects and released
// in reverse order on teardown (each release at most once, each idempotent).
import { parseHostPort, type HostPort } from "../../protocol/values.js";
import { azureConfigured, type TunConfig } from "../config/config.js";
import { EXIT_INTERRUPTED, UserError } from "../errors.js";
import { openPort25Lease, type Port25Lease } from "../port25/gate.js";
import { CaddyAdmin } from "./caddy-admin.js";
import { claimRoute, NameTakenError, releaseRoute } from "./claim.js";
import { LocalForward } from "./local-forward.js";
import { MailStream } from "./mail-stream.js";
import { ChainError, proveChain } from "./prove.js";
import { RemoteForward } from "./remote-forward.js";
import { chooseProbeListener, localHolder, readHolder, routeId, type RouteHolder } from "./route.js";
import {
  connectSsh,
  loadCredentials,
  type Credentials,
  type SshClient,
  type SshTarget,
} from "./ssh-connect.js";
import { FatalLinkError, SshLink } from "./ssh-link.js";
import type { LinkTunables } from "./tunables.js";

/** How long a liveness probe of another tunnel's VM port may take, ms. */
const LIVENESS_TIMEOUT_MS = 5_000;
/** Cleanup may reconnect once to remove the route; it waits this long for that, ms. */
const CLEANUP_CONNECT_TIMEOUT_MS = 5_000;

export interface SessionOptions {
  config: TunConfig;
  name: string;
  localPort: number;
  json: boolean;
  color: boolean;
  noPort25: boolean;
  tunables: LinkTunables;
  /** Status lines (stderr). */
  log: (line: string) => void;
  /** Where messages are printed (stdout). */
  out: NodeJS.WritableStream;
  /** Reconnecting failed for good, or the name was lost: the command tears down and exits. */
  onFatal: (err: Error) => void;
}

export class TunnelSession {
  private readonly target: SshTarget;
  private readonly publicHost: string;
  private link: SshLink | null = null;
  private creds: Credentials | null = null;
  /** Used only during teardown when the link is down (see cleanupConnect). */
  private cleanupClient: SshClient | null = null;
  private readonly remote: RemoteForward;
  private readonly forwards: LocalForward[] = [];
  private admin: CaddyAdmin | null = null;
  private caddyListen: HostPort | null = null;
  private caddyListenText = "";
  private caddyTls = false;
  private caddyFwd: LocalForward | null = null;
  private directFwd: LocalForward | null = null;
  private holder: RouteHolder | null = null;
  private lease: Port25Lease | null = null;
  private mail: MailStream | null = null;
  private routeTimer: NodeJS.Timeout | null = null;
  private checkingRoute = false;
  private sshDown = false;
  private tornDown: Promise<void> | null = null;
  /** Set by teardown; start() stops at its next step instead of acquiring more. */
  private stopping = false;
  private starting: Promise<void> | null = null;
  private started = false;

  constructor(private readonly o: SessionOptions) {
    const c = o.config;
    this.target = {
      host: c.host!,
      port: c.sshPort,
      user: c.user!,
      identityFile: c.identityFile,
      knownHosts: c.knownHosts,
    };
    this.publicHost = `${o.name}.${c.domain!}`;
    this.remote = new RemoteForward(o.localPort, c.user!);
  }

  get url(): string {
    return `${this.o.config.tls === "off" ? "http" : "https"}://${this.publicHost}`;
  }

  /** The current SSH connection (null while down); the mail UI proxy forwards through it. */
  get currentClient(): SshClient | null {
    return this.client();
  }

  private client(): SshClient | null {
    return this.link?.current ?? this.cleanupClient;
  }

  private forward(label: string, target: () => HostPort): LocalForward {
    const f = new LocalForward(label, () => this.client(), target, this.target.user);
    this.forwards.push(f);
    return f;
  }

  /** Connects and acquires everything; throws a UserError naming the failed hop. */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private checkStopping(): void {
    if (this.stopping) throw new UserError("interrupted while starting", EXIT_INTERRUPTED);
  }

  private async doStart(): Promise<void> {
    const { config, log } = this.o;
    const creds = await loadCredentials(this.target);
    this.creds = creds;
    const link = new SshLink(this.target, creds, this.o.tunables);
    this.link = link;
    const client = await link.start();
    this.checkStopping();
    log(`[tunnel] connected to ${this.target.user}@${this.target.host}:${this.target.port}`);

    const adminAddr = hostPortOf("caddyAdmin", config.caddyAdmin);
    const adminFwd = this.forward("Caddy admin", () => adminAddr);
    await adminFwd.listen();
    this.admin = new CaddyAdmin(
      () => ({ host: "127.0.0.1", port: adminFwd.port }),
      config.caddyAdmin,
      () => adminFwd.lastOpenError,
    );
    await this.readCaddyServer();
    this.caddyFwd = this.forward("Caddy", () => this.caddyListen!);
    this.directFwd = this.forward("remote forward", () => ({
      host: "127.0.0.1",
      port: this.remote.remotePort,
    }));
    await this.caddyFwd.listen();
    await this.directFwd.listen();

    const port = await this.remote.request(client).catch((err: Error) => {
      throw new UserError(`chain check failed at the forward hop: ${err.message}`);
    });
    this.checkStopping();
    this.holder = { holder: localHolder(), since: new Date().toISOString(), upstreamPort: port };
    await this.claim(true);
    this.checkStopping();
    await this.prove(true);
    this.checkStopping();

    link.reestablish = (c) => this.reestablish(c);
    link.on("lost", (reason) => this.onLost(reason));
    link.on("reconnected", () =>
      log(`[tunnel] reconnected; ${this.url} is back (VM port ${this.remote.remotePort})`),
    );
    link.on("failed", (err) => this.o.onFatal(err));

    log(`[tunnel] ${this.url} -> localhost:${this.o.localPort} (chain checked through Caddy)`);
    log(`[tunnel] mail to anything@${this.publicHost} will be shown here; Ctrl-C to stop`);
    await this.openLease();
    this.checkStopping();
    await this.startStream();
    this.started = true;
    this.routeTimer = setInterval(() => void this.checkRoute(), this.o.tunables.routeCheckMs);
  }

  private async readCaddyServer(): Promise<void> {
    const { config } = this.o;
    const app = await this.admin!.getHttpApp().catch((err: Error) => {
      throw new UserError(`chain check failed at the Caddy hop: ${err.message}`);
    });
    const server = app?.servers?.[config.caddyServer];
    if (!server) {
      throw new UserError(
        `Caddy on the VM has no HTTP server named "${config.caddyServer}" (config "caddyServer"); add it to Caddy's config or fix the key in ${config.file}`,
      );
    }
    const listener = chooseProbeListener(server, app?.http_port);
    if (!listener) {
      throw new UserError(
        `Caddy server "${config.caddyServer}" has no usable listen address (${server.listen?.join(", ") || "none"})`,
      );
    }
    this.caddyListen = { host: listener.host, port: listener.port };
    this.caddyListenText = listener.text;
    this.caddyTls = listener.tls;
  }

  private async claim(takeOverOwn: boolean): Promise<void> {
    const result = await claimRoute({
      takeOverOwn,
      admin: this.admin!,
      server: this.o.config.caddyServer,
      name: this.o.name,
      domain: this.o.config.domain!,
      holder: this.holder!,
      upstreamLive: (port) => this.upstreamLive(port),
    });
    const prev = result.replaced;
    if (prev && prev.holder === this.holder!.holder && prev.since !== this.holder!.since) {
      this.o.log(`[tunnel] took over your earlier route for ${this.publicHost} (held since ${prev.since})`);
    } else if (prev && prev.holder !== this.holder!.holder) {
      this.o.log(
        `[tunnel] replaced a dead route for ${this.publicHost} left by ${prev.holder} (since ${prev.since})`,
      );
    }
  }

  /**
   * The route can vanish while the link stays up: a Caddy reload applies the
   * base config, or someone removes it by hand. Put it back (or, if another
   * tunnel now holds the name, stop) instead of serving nothing.
   */
  private async checkRoute(): Promise<void> {
    if (this.checkingRoute || this.sshDown || this.stopping || !this.holder || !this.link?.current) return;
    this.checkingRoute = true;
    try {
      const { routes } = await this.admin!.getRoutes(this.o.config.caddyServer);
      const current = readHolder(routes?.find((r) => r["@id"] === routeId(this.o.name)));
      const ours = this.holder;
      if (
        current?.holder === ours.holder &&
        current.since === ours.since &&
        current.upstreamPort === ours.upstreamPort
      ) {
        return;
      }
      if (current && (current.holder !== ours.holder || current.since !== ours.since)) {
        const who =
          current.holder === ours.holder ? `another tun session of ${current.holder}` : current.holder;
        this.o.onFatal(
          new UserError(`the name "${this.o.name}" was taken over by ${who} (since ${current.since})`),
        );
        return;
      }
      await this.claim(false);
      this.o.log(`[tunnel] the route for ${this.publicHost} had been removed on the VM; added it again`);
    } catch (err) {
      if (err instanceof NameTakenError) this.o.onFatal(err);
      // Anything else (e.g. the link just dropped) is retried at the next check.
    } finally {
      this.checkingRoute = false;
    }
  }

  /** Whether anything accepts connections on a VM-loopback port, asked from the VM side. */
  private upstreamLive(port: number): Promise<boolean> {
    const client = this.client();
    if (!client || !port) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), LIVENESS_TIMEOUT_MS);
      try {
        client.forwardOut("127.0.0.1", 0, "127.0.0.1", port, (err, channel) => {
          clearTimeout(timer);
          if (err) return resolve(false);
          channel.close();
          resolve(true);
        });
      } catch {
        clearTimeout(timer);
        resolve(false);
      }
    });
  }

  private async prove(strict: boolean): Promise<void> {
    try {
      await proveChain({
        publicHost: this.publicHost,
        localPort: this.o.localPort,
        remote: this.remote,
        caddy: this.caddyFwd!,
        caddyListen: this.caddyListenText,
        caddyTls: this.caddyTls,
        direct: this.directFwd!,
        // After a reconnect the certificate exists already; a TLS failure then is no reason to wait.
        certWaitMs: strict ? this.o.tunables.certWaitMs : 0,
        onCertWait: () =>
          this.o.log(`[tunnel] waiting for Caddy to obtain a TLS certificate for ${this.publicHost}…`),
      });
    } catch (err) {
      if (!(err instanceof ChainError)) throw err;
      if (strict) throw new UserError(`chain check failed at the ${err.hop} hop: ${err.message}`);
      this.o.log(`[tunnel] warning: ${err.message}`);
    }
  }

  private onLost(reason: string): void {
    this.sshDown = true;
    for (const f of this.forwards) f.dropConnections();
    this.o.log(
      `[tunnel] connection to ${this.target.host}:${this.target.port} lost (${reason}); reconnecting…`,
    );
  }

  private async reestablish(client: SshClient): Promise<void> {
    const port = await this.remote.request(client);
    this.holder = { ...this.holder!, upstreamPort: port };
    try {
      await this.claim(false);
    } catch (err) {
      if (err instanceof NameTakenError)
        throw new FatalLinkError(`lost the name while reconnecting: ${err.message}`);
      throw err;
    }
    this.sshDown = false;
    await this.prove(false);
  }

  private async openLease(): Promise<void> {
    const { config, log } = this.o;
    if (this.o.noPort25) {
      log(
        "[port25] warning: --no-port25: not opening port 25; mail reaches the VM only if its NSG already allows it",
      );
      return;
    }
    if (!azureConfigured(config)) {
      log(
        "[port25] warning: azure.* is not configured, so the port-25 gate is off (port 25 stays as the NSG has it)",
      );
      return;
    }
    this.lease = await openPort25Lease(config, {
      tunnel: this.o.name,
      log: (line) => log(line.startsWith("[") ? line : `[port25] ${line}`),
    });
  }

  private async startStream(): Promise<void> {
    const sinkAddr = hostPortOf("sink", this.o.config.sink);
    const sinkForward = this.forward("sink", () => sinkAddr);
    await sinkForward.listen();
    this.mail = new MailStream({
      sinkForward,
      sinkAddress: this.o.config.sink,
      pattern: `@${this.publicHost}`,
      json: this.o.json,
      color: this.o.color,
      out: this.o.out,
      log: this.o.log,
      sshDown: () => this.sshDown,
      onFatal: this.o.onFatal,
    });
    await this.mail.start();
  }

  /** Releases everything in reverse order; safe to call several times (later calls wait for the first). */
  teardown(): Promise<void> {
    this.tornDown ??= this.doTeardown();
    return this.tornDown;
  }

  private async doTeardown(): Promise<void> {
    const { log } = this.o;
    // Let a start in progress reach its next step (each is bounded by a timeout),
    // so nothing it acquires after this point is left behind.
    this.stopping = true;
    if (this.routeTimer) clearInterval(this.routeTimer);
    if (!this.started) void this.mail?.stop(); // start may be waiting for the stream's first connection
    await this.starting?.catch(() => {});
    const step = async (what: string, fn: () => Promise<unknown>, hint = ""): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        log(`[tunnel] could not ${what}: ${(err as Error).message}${hint}`);
      }
    };
    if (this.lease) {
      const lease = this.lease;
      this.lease = null;
      await step("close the port-25 lease", () => lease.close());
    }
    if (this.mail) await step("stop the mail stream", () => this.mail!.stop());
    if (this.holder && this.admin) {
      const holder = this.holder;
      this.holder = null;
      await step(
        "remove the Caddy route",
        async () => {
          if (!this.client()) {
            await this.link?.close();
            await this.cleanupConnect();
          }
          const removed = await releaseRoute(this.admin!, this.o.config.caddyServer, this.o.name, holder);
          if (removed) log(`[tunnel] removed the route for ${this.publicHost}`);
        },
        "; tun janitor on the VM will remove it once its grace period has passed",
      );
    }
    await step("cancel the remote forward", () => this.remote.release());
    for (const f of this.forwards.reverse()) await step("close a local forward", () => f.close());
    if (this.link) await step("close the SSH connection", () => this.link!.close());
    if (this.cleanupClient) this.cleanupClient.end();
    this.cleanupClient = null;
  }

  /** The link is down at teardown: one short connection just to remove the route. */
  private async cleanupConnect(): Promise<void> {
    if (!this.creds) return;
    this.cleanupClient = await connectSsh(this.target, this.creds, {
      ...this.o.tunables,
      readyTimeoutMs: Math.min(CLEANUP_CONNECT_TIMEOUT_MS, this.o.tunables.readyTimeoutMs),
    });
  }
}

function hostPortOf(key: string, value: string): HostPort {
  const hp = parseHostPort(value);
  if (!hp) throw new UserError(`config "${key}" must be HOST:PORT, got "${value}"`);
  return hp;
}
