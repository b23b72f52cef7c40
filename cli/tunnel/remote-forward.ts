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

export class RemoteForward {
  /** Port sshd bound on the VM; 0 until requested. */
  remotePort = 0;
  /** Connections that arrived through the forward, in total; the chain proof watches it. */
  accepted = 0;
  /** The last failure to reach the local app (null after a success). */
  lastLocalError: string | null = null;
  private client: SshClient | null = null;
  private readonly onTcp = (
    info: { destIP: string; destPort: number },
    accept: () => ClientChannel,
    reject: () => void,
  ) => {
    if (info.destPort !== this.remotePort) {
      reject();
      return;
    }
    this.accepted++;
    const channel = accept();
    const sock = connect({ host: LOCAL_APP_HOST, port: this.localPort });
    sock.once("connect", () => {
      this.lastLocalError = null;
    });
    sock.on("error", (err: NodeJS.ErrnoException) => {
      this.lastLocalError = err.code === "ECONNREFUSED" ? "connection refused" : err.message;
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
