// One `tun up` session: one SSH link, Caddy's admin API, the port-25 lease and
// the console, shared by one or more named tunnels (each with its remote
// forward, Caddy route, chain proof and mail stream). Everything is checked
// before anything is public, re-established together after reconnects, kept
// alive by a heartbeat in each route's holder record, and released in reverse
// order on teardown (each release at most once, each idempotent). Teardown
// interrupts any wait of a start in progress at once.
import { SinkClient } from "@tunmail/client";
import { parseHostPort, type HostPort } from "../../protocol/values.js";
import { azureConfigured, type TunConfig } from "../config/config.js";
import { EXIT_INTERRUPTED, UserError } from "../errors.js";
import { openPort25Lease, type Port25Lease } from "../port25/gate.js";
import { preflight } from "../doctor/preflight.js";
import { CaddyAdmin, CaddyAdminError } from "./caddy-admin.js";
import { checkRoutes, NameTakenError } from "./claim.js";
import { LocalForward } from "./local-forward.js";
import { MailStream, type MailStreamOptions } from "./mail-stream.js";
import { OutageNotices } from "./outage-notices.js";
import { ChainError, localAppListening } from "./prove.js";
import { chooseProbeListener, localHolder } from "./route.js";
import {
  connectSsh,
  loadCredentials,
  type Credentials,
  type SshClient,
  type SshTarget,
} from "./ssh-connect.js";
import { FatalLinkError, SshLink } from "./ssh-link.js";
import { taggedOutput } from "./tagged-output.js";
import { ROUTE_CHECKS_PER_HEARTBEAT, type LinkTunables } from "./tunables.js";
import { Tunnel, type CaddyTarget, type TunnelSpec } from "./tunnel.js";

/** How long a liveness probe of another tunnel's VM port may take, ms. */
const LIVENESS_TIMEOUT_MS = 5_000;
/** Cleanup may reconnect once to remove the routes; it waits this long for that, ms. */
const CLEANUP_CONNECT_TIMEOUT_MS = 5_000;
/** Teardown waits this long for a route write already in flight before removing routes, ms. */
const INFLIGHT_CLAIM_WAIT_MS = 500;

export interface SessionOptions {
  config: TunConfig;
  tunnels: readonly TunnelSpec[];
  json: boolean;
  color: boolean;
  noPort25: boolean;
  tunables: LinkTunables;
  /** Status lines (stderr). */
  log: (line: string) => void;
  /** Where messages are printed (stdout). */
  out: NodeJS.WritableStream;
  /** Reconnecting failed for good, or a name was lost: the command tears down and exits. */
  onFatal: (err: Error) => void;
  /** --deliver / a tunnel's "deliver": delivery settings by tunnel name (see cli/deliver/). */
  deliver?: ReadonlyMap<string, NonNullable<MailStreamOptions["deliver"]>>;
}

class Interrupted extends UserError {
  constructor() {
    super("interrupted while starting", EXIT_INTERRUPTED);
  }
}

export class TunnelSession {
  private readonly target: SshTarget;
  private link: SshLink | null = null;
  private creds: Credentials | null = null;
  /** Used only during teardown when the link is down (see cleanupConnect). */
  private cleanupClient: SshClient | null = null;
  private readonly forwards: LocalForward[] = [];
  private admin: CaddyAdmin | null = null;
  private caddyListen: HostPort | null = null;
  private tunnels: Tunnel[] = [];
  private lease: Port25Lease | null = null;
  private readonly notices: OutageNotices;
  private tickTimer: NodeJS.Timeout | null = null;
  private ticking = false;
  private lastBeat = 0;
  private claiming: Promise<unknown> | null = null;
  private tornDown: Promise<void> | null = null;
  /** Aborted by teardown: every wait of start() ends at once, and start() acquires nothing more. */
  private readonly stop = new AbortController();
  private starting: Promise<void> | null = null;
  private started = false;
  private markRoutesDone: () => void = () => {};
  private readonly routesDone = new Promise<void>((resolve) => (this.markRoutesDone = resolve));

  constructor(private readonly o: SessionOptions) {
    const c = o.config;
    this.target = {
      host: c.host!,
      port: c.sshPort,
      user: c.user!,
      identityFile: c.identityFile,
      knownHosts: c.knownHosts,
    };
    const t = o.tunables;
    this.notices = new OutageNotices(o.log, t.keepaliveIntervalMs * (t.keepaliveCountMax + 1));
  }

  get urls(): string[] {
    return this.tunnels.map((t) => t.url);
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

  /** Resolves like `p`, or rejects with Interrupted as soon as teardown begins. */
  private interruptible<T>(p: Promise<T>): Promise<T> {
    const signal = this.stop.signal;
    if (signal.aborted) return Promise.reject(new Interrupted());
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(new Interrupted());
      signal.addEventListener("abort", onAbort, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener("abort", onAbort);
          resolve(v);
        },
        (err: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(err as Error);
        },
      );
    });
  }

  private async doStart(): Promise<void> {
    const { config, log, tunables } = this.o;
    const creds = await this.interruptible(loadCredentials(this.target));
    this.creds = creds;
    const link = new SshLink(this.target, creds, tunables);
    this.link = link;
    const client = await this.interruptible(link.start());
    log(`[tunnel] connected to ${this.target.user}@${this.target.host}:${this.target.port}`);
    // Each hop named before anything becomes public, over this same connection (cli/doctor/preflight.ts).
    await this.interruptible(
      preflight(config, {
        names: this.o.tunnels.map((t) => t.name),
        localPorts: this.o.tunnels.map((t) => t.localPort),
        client,
      }),
    );

    const adminAddr = hostPortOf("caddyAdmin", config.caddyAdmin);
    const adminFwd = this.forward("Caddy admin", () => adminAddr);
    await adminFwd.listen();
    this.admin = new CaddyAdmin(
      () => ({ host: "127.0.0.1", port: adminFwd.port }),
      config.caddyAdmin,
      () => adminFwd.lastOpenError,
    );
    const caddy = await this.interruptible(this.readCaddyServer());
    await caddy.listener.listen();
    this.tunnels = this.o.tunnels.map((spec) => new Tunnel(spec, caddy));

    // Nothing is public yet: check what would make the URLs useless first.
    await this.interruptible(this.checkLocalApps());
    const sinkForward = this.forward("sink", () => hostPortOf("sink", config.sink));
    await sinkForward.listen();
    await this.interruptible(this.checkSink(sinkForward));

    const holder = localHolder();
    const since = new Date().toISOString();
    for (const t of this.tunnels) {
      await this.interruptible(t.forward(client, holder, since)).catch((err: Error) => {
        if (err instanceof Interrupted) throw err;
        throw new UserError(`chain check failed at the forward hop: ${err.message}`);
      });
      t.direct = this.forward(`remote forward of ${t.name}`, () => ({
        host: "127.0.0.1",
        port: t.remote.remotePort,
      }));
      await t.direct.listen();
    }
    for (const t of this.tunnels) await this.interruptible(this.claim(t, true));
    this.lastBeat = Date.now();
    for (const t of this.tunnels) await this.interruptible(this.prove(t, true));

    link.reestablish = (c) => this.reestablish(c);
    link.on("lost", (reason) => this.onLost(reason));
    link.on("reconnected", () =>
      this.notices.linkBack(
        `[tunnel] reconnected; ${this.tunnels.map((t) => `${t.url} is back (VM port ${t.remote.remotePort})`).join(", ")}`,
      ),
    );
    link.on("failed", (err) => this.o.onFatal(err));

    for (const t of this.tunnels) {
      const auth = t.spec.basicAuth ? ` (basic auth as ${t.spec.basicAuth.username})` : "";
      log(`[tunnel] ${t.url} -> localhost:${t.spec.localPort}${auth} (chain checked through Caddy)`);
    }
    const hosts = this.tunnels.map((t) => `anything@${t.publicHost}`).join(", ");
    log(`[tunnel] mail to ${hosts} will be shown here; Ctrl-C to stop`);
    await this.interruptible(this.openLease());
    for (const t of this.tunnels) await this.interruptible(this.startStream(t, sinkForward));
    this.started = true;
    const tickMs = Math.min(tunables.routeCheckMs, tunables.heartbeatMs / ROUTE_CHECKS_PER_HEARTBEAT);
    this.tickTimer = setInterval(() => void this.tick(tickMs), tickMs);
  }

  private async readCaddyServer(): Promise<CaddyTarget> {
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
    return {
      admin: this.admin!,
      server: config.caddyServer,
      domain: config.domain!,
      listener: this.forward("Caddy", () => this.caddyListen!),
      listenText: listener.text,
      tls: listener.tls,
      scheme: config.tls === "off" ? "http" : "https",
      user: config.user!,
    };
  }

  private async checkLocalApps(): Promise<void> {
    for (const t of this.tunnels) {
      const why = await localAppListening(t.spec.localPort);
      if (why) {
        throw new UserError(
          `chain check failed at the local app hop: nothing is listening on localhost:${t.spec.localPort} (${why}); start your app first or check the port`,
        );
      }
    }
  }

  private async checkSink(sinkForward: LocalForward): Promise<void> {
    try {
      await new SinkClient(sinkForward.url).health();
    } catch (err) {
      const why = sinkForward.lastOpenError ?? (err as Error).message;
      throw new UserError(`cannot stream mail from the VM's sink at ${this.o.config.sink}: ${why}`);
    }
  }

  private async claim(t: Tunnel, takeOverOwn: boolean): Promise<void> {
    const claiming = t.claim({
      takeOverOwn,
      staleMs: this.o.tunables.heartbeatStaleMs,
      upstreamLive: (port) => this.upstreamLive(port),
    });
    this.claiming = claiming.catch(() => {});
    const { replaced: prev, staleForMs } = await claiming;
    const ours = t.holder!;
    if (prev && prev.holder === ours.holder && prev.since !== ours.since) {
      this.o.log(`[tunnel] took over your earlier route for ${t.publicHost} (held since ${prev.since})`);
    } else if (prev && prev.holder !== ours.holder) {
      const why =
        staleForMs === null
          ? "its VM port was dead"
          : `its last heartbeat was ${Math.round(staleForMs / 1000)} s ago`;
      this.o.log(
        `[tunnel] replaced a dead route for ${t.publicHost} left by ${prev.holder} (since ${prev.since}; ${why})`,
      );
    }
  }

  /**
   * Every routeCheckMs: the routes are still ours (a Caddy reload or someone
   * may have removed one: put it back; another tunnel may have taken a name:
   * stop), and every heartbeatMs their heartbeat is refreshed. An unreachable
   * admin API is reported once and re-checked at each tick.
   */
  private async tick(tickMs: number): Promise<void> {
    if (this.ticking || this.notices.linkDown || this.stop.signal.aborted || !this.link?.current) return;
    this.ticking = true;
    try {
      const beat = Date.now() - this.lastBeat >= this.o.tunables.heartbeatMs - tickMs / 2;
      const held = this.tunnels.filter((t) => t.holder).map((t) => ({ name: t.name, holder: t.holder! }));
      const { states, heartbeat } = await checkRoutes(this.admin!, this.o.config.caddyServer, held, beat);
      this.notices.adminOk();
      if (heartbeat) this.lastBeat = Date.now();
      for (const t of this.tunnels) {
        const s = states.get(t.name);
        if (!s || !t.holder) continue;
        if (s.state === "ours" && heartbeat) t.holder = { ...t.holder, heartbeat };
        if (s.state === "taken") {
          const who = s.by.holder === t.holder.holder ? `another tun session of ${s.by.holder}` : s.by.holder;
          t.holder = null; // not ours to remove any more
          this.o.onFatal(
            new UserError(`the name "${t.name}" was taken over by ${who} (since ${s.by.since})`),
          );
          return;
        }
        if (s.state === "missing") {
          await this.claim(t, false);
          this.o.log(`[tunnel] the route for ${t.publicHost} had been removed on the VM; added it again`);
        }
      }
    } catch (err) {
      if (err instanceof NameTakenError) this.o.onFatal(err);
      else if (err instanceof CaddyAdminError && err.status === null && this.link?.current) {
        this.notices.adminFailed(err.message, tickMs);
      }
      // Anything else (e.g. the link just dropped) is retried at the next tick.
    } finally {
      this.ticking = false;
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

  private async prove(t: Tunnel, strict: boolean): Promise<void> {
    try {
      // After a reconnect the certificate exists already; a TLS failure then is no reason to wait.
      await t.prove(strict ? this.o.tunables.certWaitMs : 0, () =>
        this.o.log(`[tunnel] waiting for Caddy to obtain a TLS certificate for ${t.publicHost}…`),
      );
    } catch (err) {
      if (!(err instanceof ChainError)) throw err;
      if (strict) throw new UserError(`chain check failed at the ${err.hop} hop: ${err.message}`);
      this.o.log(`[tunnel] warning: ${t.name}: ${err.message}`);
    }
  }

  private onLost(reason: string): void {
    for (const f of this.forwards) f.dropConnections();
    this.notices.linkLost(
      `[tunnel] connection to ${this.target.host}:${this.target.port} lost (${reason}); reconnecting…`,
    );
  }

  private async reestablish(client: SshClient): Promise<void> {
    for (const t of this.tunnels) await t.forward(client, t.holder!.holder, t.holder!.since);
    try {
      for (const t of this.tunnels) await this.claim(t, false);
    } catch (err) {
      if (err instanceof NameTakenError)
        throw new FatalLinkError(`lost a name while reconnecting: ${err.message}`);
      throw err;
    }
    this.lastBeat = Date.now();
    for (const t of this.tunnels) await this.prove(t, false);
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
    // One lease for the whole session, named after its first tunnel.
    const lease = openPort25Lease(config, {
      tunnel: this.tunnels[0]!.name,
      log: (line) => log(line.startsWith("[") ? line : `[port25] ${line}`),
    });
    // Interrupted while Azure works: close the lease once it exists (the janitor sweeps it at its TTL otherwise).
    const closeWhenOpened = (): void => void lease.then((l) => l.close()).catch(() => {});
    this.stop.signal.addEventListener("abort", closeWhenOpened, { once: true });
    this.lease = await lease;
    // Opened: teardown closes it in its turn, after the routes, so the public URL stops answering first.
    this.stop.signal.removeEventListener("abort", closeWhenOpened);
  }

  private async startStream(t: Tunnel, sinkForward: LocalForward): Promise<void> {
    const several = this.tunnels.length > 1;
    t.mail = new MailStream({
      sinkForward,
      sinkAddress: this.o.config.sink,
      pattern: `@${t.publicHost}`,
      json: this.o.json,
      color: this.o.color,
      out: several ? taggedOutput(this.o.out, t.name, this.o.json) : this.o.out,
      log: (line) => this.notices.streamLine(t.name, line),
      // Outage notices are folded by OutageNotices, which knows about the link and the other streams.
      sshDown: () => false,
      onFatal: this.o.onFatal,
      deliver: this.o.deliver?.get(t.name),
    });
    await t.mail.start();
  }

  /** Releases everything in reverse order; safe to call several times (later calls wait for the first). */
  teardown(): Promise<void> {
    this.tornDown ??= this.doTeardown();
    return this.tornDown;
  }

  /** Resolves once teardown has removed the routes (or given up on them); a second Ctrl-C waits for this. */
  routesReleased(): Promise<void> {
    return this.routesDone;
  }

  private async doTeardown(): Promise<void> {
    const { log } = this.o;
    // Any wait of a start in progress ends now; start() then acquires nothing more.
    this.stop.abort();
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.notices.stop();
    if (!this.started) for (const t of this.tunnels) void t.mail?.stop();
    await this.starting?.catch(() => {});
    // A route write already on its way would land after our removal: let it finish first (briefly).
    if (this.claiming) await Promise.race([this.claiming, delay(INFLIGHT_CLAIM_WAIT_MS)]);
    const step = async (what: string, fn: () => Promise<unknown>, hint = ""): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        log(`[tunnel] could not ${what}: ${(err as Error).message}${hint}`);
      }
    };
    // The routes go first (the mail streams stop alongside): the public URLs stop answering at once.
    const streamsStopped = Promise.all(
      this.tunnels.map((t) => (t.mail ? step("stop the mail stream", () => t.mail!.stop()) : undefined)),
    );
    if (this.tunnels.some((t) => t.holder) && this.admin) {
      const one = this.tunnels.length === 1;
      await step(
        one ? "remove the Caddy route" : "remove the Caddy routes",
        async () => {
          if (!this.client()) {
            await this.link?.close();
            await this.cleanupConnect();
          }
          for (const t of this.tunnels) {
            if (await t.release()) log(`[tunnel] removed the route for ${t.publicHost}`);
          }
        },
        `; tun janitor on the VM will remove ${one ? "it once its heartbeat is" : "them once their heartbeats are"} stale`,
      );
    }
    this.markRoutesDone();
    await streamsStopped;
    if (this.lease) {
      const lease = this.lease;
      this.lease = null;
      await step("close the port-25 lease", () => lease.close());
    }
    for (const t of this.tunnels) await step("cancel a remote forward", () => t.remote.release());
    for (const f of this.forwards.reverse()) await step("close a local forward", () => f.close());
    if (this.link) await step("close the SSH connection", () => this.link!.close());
    if (this.cleanupClient) this.cleanupClient.end();
    this.cleanupClient = null;
  }

  /** The link is down at teardown: one short connection just to remove the routes. */
  private async cleanupConnect(): Promise<void> {
    if (!this.creds) return;
    this.cleanupClient = await connectSsh(this.target, this.creds, {
      ...this.o.tunables,
      readyTimeoutMs: Math.min(CLEANUP_CONNECT_TIMEOUT_MS, this.o.tunables.readyTimeoutMs),
    });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function hostPortOf(key: string, value: string): HostPort {
  const hp = parseHostPort(value);
  if (!hp) throw new UserError(`config "${key}" must be HOST:PORT, got "${value}"`);
  return hp;
}
