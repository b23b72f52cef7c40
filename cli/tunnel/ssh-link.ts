// The SSH link of a running tunnel: the current connection, and reconnection
// with exponential backoff when it drops (keepalive timeout, reset, close).
// After each reconnect it runs the session's `reestablish` hook; a hook that
// throws a FatalLinkError ends the link, any other error counts as one more
// failed try. The budget bounds how long the link may stay down.
import { EventEmitter } from "node:events";
import { connectSsh, type Credentials, type SshClient, type SshTarget } from "./ssh-connect.js";
import type { LinkTunables } from "./tunables.js";

/** Reconnecting cannot help (e.g. the name was taken over): stop and tear down. */
export class FatalLinkError extends Error {}

export interface SshLinkEvents {
  lost: [reason: string];
  reconnected: [];
  failed: [err: Error];
}

export class SshLink extends EventEmitter<SshLinkEvents> {
  current: SshClient | null = null;
  private closing = false;
  private reconnecting = false;
  private wake: (() => void) | null = null;
  reestablish: (client: SshClient) => Promise<void> = async () => {};

  constructor(
    readonly target: SshTarget,
    private readonly creds: Credentials,
    private readonly tunables: LinkTunables,
  ) {
    super();
  }

  get isUp(): boolean {
    return this.current !== null;
  }

  /** First connection: errors propagate as UserErrors (no retry: the user is watching). */
  async start(): Promise<SshClient> {
    const client = await connectSsh(this.target, this.creds, this.tunables);
    this.adopt(client);
    return client;
  }

  private adopt(client: SshClient): void {
    this.current = client;
    let lastError = "connection closed";
    client.on("error", (err: Error) => {
      lastError = err.message;
    });
    client.once("close", () => {
      if (this.current !== client) return;
      this.current = null;
      if (this.closing) return;
      this.emit("lost", lastError);
      void this.reconnectLoop();
    });
  }

  private async reconnectLoop(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    const deadline = Date.now() + this.tunables.reconnectBudgetMs;
    let delay = this.tunables.reconnectMinMs;
    let lastErr: Error = new Error("connection lost");
    try {
      while (!this.closing) {
        if (Date.now() >= deadline) {
          this.emit(
            "failed",
            new Error(`could not reconnect to ${this.target.host}:${this.target.port}: ${lastErr.message}`),
          );
          return;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(delay, Math.max(0, deadline - Date.now())));
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
        if (this.closing) return;
        delay = Math.min(delay * 2, this.tunables.reconnectMaxMs);
        let client: SshClient;
        try {
          client = await connectSsh(this.target, this.creds, this.tunables);
        } catch (err) {
          lastErr = err as Error;
          continue;
        }
        if (this.closing) {
          client.end();
          return;
        }
        // Local forwards use `current`, and re-establishing needs them (Caddy admin).
        let closedEarly = false;
        const onEarlyClose = () => {
          closedEarly = true;
        };
        client.once("close", onEarlyClose);
        this.current = client;
        try {
          await this.reestablish(client);
        } catch (err) {
          this.current = null;
          client.removeListener("close", onEarlyClose);
          client.end();
          if (err instanceof FatalLinkError) {
            this.emit("failed", err);
            return;
          }
          lastErr = err as Error;
          continue;
        }
        client.removeListener("close", onEarlyClose);
        if (closedEarly || this.closing) {
          this.current = null;
          client.end();
          if (this.closing) return;
          lastErr = new Error("connection closed while re-establishing the tunnel");
          continue;
        }
        this.reconnecting = false;
        this.adopt(client);
        this.emit("reconnected");
        return;
      }
    } finally {
      this.reconnecting = false;
    }
  }

  /** Stops reconnecting and ends the connection; idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    this.wake?.();
    const client = this.current;
    this.current = null;
    if (!client) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2_000);
      client.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      client.end();
    });
  }
}
