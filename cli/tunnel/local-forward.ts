// `ssh -L` in-process: a listener on 127.0.0.1:0 whose connections are piped
// through the *current* SSH connection to a VM-local address. Plain http, fetch
// and ws then work unchanged, and the listener survives SSH reconnects (new
// connections simply use the new client).
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import type { HostPort } from "../../protocol/values.js";
import { forwardRefusedMessage, isForwardRefusal } from "./forward-refusal.js";
import type { SshClient } from "./ssh-connect.js";

export class LocalForward {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  /** The last channel-open failure, e.g. "Connection refused": tells a caller which hop failed. */
  lastOpenError: string | null = null;
  /** True when that failure was sshd refusing the forward itself (policy), not the target. */
  lastOpenRefused = false;
  port = 0;

  constructor(
    private readonly label: string,
    private readonly currentClient: () => SshClient | null,
    private readonly target: () => HostPort,
    /** The SSH user, named when sshd refuses the forward. */
    private readonly user = "your user",
  ) {}

  /** "http://127.0.0.1:PORT" of the local end. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    const server = createServer((sock) => this.handle(sock));
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) =>
        reject(new Error(`[tunnel] cannot open local forward for ${this.label}: ${err.message}`)),
      );
      server.listen(0, "127.0.0.1", () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  private handle(sock: Socket): void {
    this.sockets.add(sock);
    sock.once("close", () => this.sockets.delete(sock));
    sock.on("error", () => sock.destroy());
    sock.pause();
    const client = this.currentClient();
    if (!client) {
      this.lastOpenError = "no SSH connection";
      sock.destroy();
      return;
    }
    const { host, port } = this.target();
    try {
      client.forwardOut("127.0.0.1", 0, host, port, (err, channel) => {
        if (err) {
          this.lastOpenRefused = isForwardRefusal(err);
          this.lastOpenError = this.lastOpenRefused ? forwardRefusedMessage(this.user) : err.message;
          sock.destroy();
          return;
        }
        this.lastOpenError = null;
        this.lastOpenRefused = false;
        if (sock.destroyed) {
          channel.close();
          return;
        }
        channel.on("error", () => sock.destroy());
        channel.once("close", () => sock.destroy());
        sock.once("close", () => channel.close());
        sock.pipe(channel).pipe(sock);
        sock.resume();
      });
    } catch (err) {
      // ssh2 throws synchronously when the connection is already closed.
      this.lastOpenError = (err as Error).message;
      sock.destroy();
    }
  }

  /** Drops every open connection (they ride a dead SSH link) but keeps listening. */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** Idempotent. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    this.dropConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
