// `ssh -R 127.0.0.1:0:localhost:PORT` in-process: sshd picks a free loopback
// port on the VM, and every connection to it is piped to the local app.
// ssh2 forgets forwards on every connect, so the session requests a new one
// (and gets a new port) after each reconnect.
import { connect } from "node:net";
import type { ClientChannel } from "ssh2";
import { forwardRefusedMessage } from "./forward-refusal.js";
import type { SshClient } from "./ssh-connect.js";

/** Where forwarded connections go locally: "localhost" so apps bound to ::1 or 127.0.0.1 both work. */
const LOCAL_APP_HOST = "localhost";
const REMOTE_BIND_ADDR = "127.0.0.1";
const UNFORWARD_TIMEOUT_MS = 2_000;
/** Probe tokens are shorter than this (chars); a token split across two chunks is still found. */
const PROBE_TOKEN_MAX_CHARS = 64;

/**
 * One chain proof's view of the forward: whether a request carrying its token
 * came through, and what the local app did with that connection. Other traffic
 * (a stray request to the public URL during the proof) does not touch it.
 */
export interface ProbeWatch {
  readonly token: string;
  seen: boolean;
  /** Connecting to the local app for the token's connection failed with this; null otherwise. */
  localError: string | null;
}

export class RemoteForward {
  /** Port sshd bound on the VM; 0 until requested. */
  remotePort = 0;
  /** Connections that arrived through the forward, in total; the chain proof watches it. */
  accepted = 0;
  /** The last failure to reach the local app (null after a success). */
  lastLocalError: string | null = null;
  private client: SshClient | null = null;
  private readonly probes = new Set<ProbeWatch>();
  private readonly onTcp = (info: { destIP: string; destPort: number }, accept: () => ClientChannel) => {
    // Several tunnels share one connection: another forward's connection is theirs to accept.
    if (info.destPort !== this.remotePort) return;
    this.accepted++;
    const channel = accept();
    const sock = connect({ host: LOCAL_APP_HOST, port: this.localPort });
    const hits: ProbeWatch[] = [];
    let localError: string | null | undefined;
    if (this.probes.size > 0) this.scanForProbes(channel, hits, () => localError);
    sock.once("connect", () => {
      this.lastLocalError = null;
      localError = null;
    });
    sock.on("error", (err: NodeJS.ErrnoException) => {
      this.lastLocalError = err.code === "ECONNREFUSED" ? "connection refused" : err.message;
      localError = this.lastLocalError;
      for (const w of hits) w.localError = localError;
      channel.close();
    });
    channel.on("error", () => sock.destroy());
    channel.once("close", () => sock.destroy());
    sock.once("close", () => channel.close());
    channel.pipe(sock).pipe(channel);
  };

  constructor(
    readonly localPort: number,
    /** The SSH user, named when sshd refuses the forward. */
    private readonly user = "your user",
  ) {}

  /** Starts watching for requests that carry `token` (see ProbeWatch); stop with unwatchProbe. */
  watchProbe(token: string): ProbeWatch {
    const watch: ProbeWatch = { token, seen: false, localError: null };
    this.probes.add(watch);
    return watch;
  }

  unwatchProbe(watch: ProbeWatch): void {
    this.probes.delete(watch);
  }

  /** Scans what a connection sends towards the local app for armed probe tokens (only while a proof runs). */
  private scanForProbes(
    channel: ClientChannel,
    hits: ProbeWatch[],
    localError: () => string | null | undefined,
  ): void {
    let tail = "";
    const scan = (chunk: Buffer): void => {
      if (this.probes.size === 0) {
        channel.off("data", scan);
        return;
      }
      const text = tail + chunk.toString("latin1");
      for (const w of this.probes) {
        if (w.seen || !text.includes(w.token)) continue;
        w.seen = true;
        w.localError = localError() ?? null;
        hits.push(w);
      }
      tail = text.slice(-PROBE_TOKEN_MAX_CHARS);
    };
    channel.on("data", scan);
  }

  /** Requests the forward on `client`; resolves with the VM-side port. */
  request(client: SshClient): Promise<number> {
    this.detach();
    this.client = client;
    client.on("tcp connection", this.onTcp);
    return new Promise((resolve, reject) => {
      try {
        client.forwardIn(REMOTE_BIND_ADDR, 0, (err, port) => {
          if (err) {
            // sshd answers a forbidden tcpip-forward with a bare REQUEST_FAILURE (ssh2: "Unable to bind
            // to 127.0.0.1:0"); with port 0 a real bind failure on loopback is not a practical cause.
            reject(new Error(forwardRefusedMessage(this.user)));
            return;
          }
          this.remotePort = port;
          resolve(port);
        });
      } catch (err) {
        reject(new Error(`cannot request the remote forward: ${(err as Error).message}`));
      }
    });
  }

  private detach(): void {
    this.client?.removeListener("tcp connection", this.onTcp);
    this.client = null;
  }

  /** Cancels the forward on the VM (best effort) and stops accepting; idempotent. */
  async release(): Promise<void> {
    const client = this.client;
    const port = this.remotePort;
    this.detach();
    this.remotePort = 0;
    if (!client || !port) return;
    // A dead link never answers; the forward dies with the connection anyway.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, UNFORWARD_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      try {
        client.unforwardIn(REMOTE_BIND_ADDR, port, done);
      } catch {
        done();
      }
    });
  }
}
