// smtp-server, minus the artificial greeting delay.
//
// SMTPConnection#init() waits a hard-coded 100 ms before connectionReady() so
// it can catch "early talkers" (spam bots that send before the greeting).
// A test sink gains nothing from that check, and with one connection per
// message (nodemailer's default without `pool`) the delay caps each sending
// client at about 10 messages/s. There is no option for it, so this subclass
// replaces init() with the same steps without the timer; clients that talk
// before the greeting are still refused by the library, because the
// connection only starts reading commands after connectionReady() ran.
// Reverse DNS is switched off with the regular `disableReverseLookup` option.
//
// The DATA reply is also adjusted: smtp-server tags a successful DATA with the
// enhanced code 2.6.0; we answer Postfix-style `250 2.0.0 Ok: queued as <id>`,
// which clients and log scrapers already know.
//
// Shutdown: smtp-server's own close() answers 421 to every command from the
// moment it is called, so a client between RCPT and DATA loses its message.
// drain() below stops accepting, lets a session that is inside a transaction
// (MAIL FROM given, or sending DATA) finish it, answers 421 to sessions with
// nothing in progress and to everyone left when the grace period ends.
//
// Admission (limits.ts) also happens in init(): --deny/--allow (554), the
// total and per-IP session limits (421), shared by the plain and smtps
// listeners; and every admitted session gets a hard time limit (slow loris).
//
// All overrides use methods that smtp-server declares public in its types
// (init, connectionReady, _setListeners, send, connect); re-check them when
// upgrading smtp-server (test/sink/smtp.test.ts measures the greeting time).
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { SMTPServer } from "smtp-server";
import { SMTPConnection, type SMTPConnectionOptions } from "smtp-server/lib/smtp-connection.js";
import type { Admission, Refusal } from "./limits.js";

/** How often drain() checks whether every session has finished. */
const DRAIN_POLL_MS = 20;
/** After the 421s, how long to wait for clients to hang up before going on without them. */
const HANGUP_WAIT_MS = 1_000;
const SHUTDOWN_TEXT = "Server shutting down, try again later";
/** While a message is being committed past the session time limit, how often to look again. */
const SESSION_RECHECK_MS = 1_000;

class PromptConnection extends SMTPConnection {
  /** True while a mail transaction is open: after MAIL FROM, until the DATA reply. */
  get inTransaction(): boolean {
    return Boolean(this.session.envelope?.mailFrom) || Boolean(this._dataStream);
  }

  override init(): void {
    const server = this._server as PromptSMTPServer;
    // the socket the client connected with: after STARTTLS _socket is the TLS one, whose close follows it
    const socket = this._socket;
    this._setListeners(() => {
      const verdict = server.admission?.admit(this.remoteAddress) ?? { release: () => {} };
      if ("code" in verdict) {
        server.onRefused?.(this.remoteAddress, verdict);
        this.send(verdict.code, verdict.text, false);
        if (verdict.code !== 421) this.close(); // send() closes after a 421 by itself
        return;
      }
      if (socket.closed) verdict.release();
      else socket.once("close", verdict.release);
      this.limitSessionTime(socket, server.sessionTimeoutMs);
      this.connectionReady();
    });
  }

  /**
   * Ends the session after maxMs however busy the client keeps it: the idle
   * timeout alone lets a slow-loris client (one byte every minute) hold a
   * slot forever. A message the sink is still committing is let finish first.
   */
  private limitSessionTime(socket: Socket | TLSSocket, maxMs: number): void {
    if (!maxMs) return;
    let timer: NodeJS.Timeout;
    const check = (): void => {
      if (this._closing || this._closed) return;
      const clientSending = Boolean(this._dataStream) && Boolean(this._parser && this._parser._dataMode);
      if (this._handlerPending && !clientSending) {
        timer = setTimeout(check, SESSION_RECHECK_MS).unref();
        return;
      }
      (this._server as PromptSMTPServer).onSessionTimeout?.(this.remoteAddress);
      this.send(421, "4.4.2 Session time limit exceeded, closing connection", false);
    };
    timer = setTimeout(check, maxMs).unref();
    socket.once("close", () => clearTimeout(timer));
  }

  override _onCommand(command: Buffer, callback?: () => void): void {
    if ((this._server as PromptSMTPServer).draining && !this.inTransaction) {
      const name = command.toString().split(" ")[0]!.toUpperCase();
      if (name !== "QUIT") {
        this.send(421, SHUTDOWN_TEXT);
        callback?.();
        return;
      }
    }
    super._onCommand(command, callback);
  }

  override send(code: number, data?: string | string[], context?: string | false): void {
    super.send(code, data, code === 250 && context === "DATA_OK" ? undefined : context);
  }
}

export class PromptSMTPServer extends SMTPServer {
  draining = false;
  /** Shared by the plain and smtps listeners; absent: everyone is let in. */
  admission?: Admission;
  /** 0: no limit on the length of a session. */
  sessionTimeoutMs = 0;
  onRefused?: (ip: string, refusal: Refusal) => void;
  onSessionTimeout?: (ip: string) => void;

  /**
   * Stops accepting, lets open transactions finish for up to graceMs, then
   * answers 421 to every remaining session. Resolves once all are closed or told.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    const listenerClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this._pendingSockets.forEach((socket) => socket.destroy());
    const idleOnes = (): PromptConnection[] =>
      [...this.connections].filter(
        (c): c is PromptConnection => c instanceof PromptConnection && !c.inTransaction,
      );
    const deadline = Date.now() + graceMs;
    for (;;) {
      for (const c of idleOnes()) if (!c._closing) c.send(421, SHUTDOWN_TEXT);
      const open = [...this.connections].filter((c) => !c._closing);
      if (!open.length || Date.now() >= deadline) {
        for (const c of open) c.send(421, SHUTDOWN_TEXT);
        break;
      }
      // smtp-server has no per-transaction event to wait on; a short poll is enough here
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    }
    // the listener's close callback waits for every socket; those told 421 are ending theirs
    await Promise.race([listenerClosed, new Promise((r) => setTimeout(r, HANGUP_WAIT_MS).unref())]);
  }

  override connect(socket: Socket | TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new PromptConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on("error", (err: Error) => this._onError(err));
    connection.on("connect", (data) => this._onClientConnect(data));
    connection.init();
  }
}
