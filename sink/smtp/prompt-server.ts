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
// Both overrides use methods that smtp-server declares public in its types
// (init, connectionReady, _setListeners, send, connect); re-check them when
// upgrading smtp-server (test/sink/smtp.test.ts measures the greeting time).
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { SMTPServer } from "smtp-server";
import { SMTPConnection, type SMTPConnectionOptions } from "smtp-server/lib/smtp-connection.js";

class PromptConnection extends SMTPConnection {
  override init(): void {
    this._setListeners(() => {
      const max = this._server.options.maxClients;
      if (max && this._server.connections.size > max) {
        this.send(421, this.name + " Too many connected clients, try again in a moment", false);
        return;
      }
      this.connectionReady();
    });
  }

  override send(code: number, data?: string | string[], context?: string | false): void {
    super.send(code, data, code === 250 && context === "DATA_OK" ? undefined : context);
  }
}

export class PromptSMTPServer extends SMTPServer {
  override connect(socket: Socket | TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new PromptConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on("error", (err: Error) => this._onError(err));
    connection.on("connect", (data) => this._onClientConnect(data));
    connection.init();
  }
}
