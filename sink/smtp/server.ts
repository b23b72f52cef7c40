// The SMTP listener: accepts every message (no relaying, no AUTH by default),
// hands it to the ingest pipeline and answers 250 only once it is committed.
import type { SMTPServerDataStream, SMTPServerSession } from "smtp-server";
import { addressMatches, type Message } from "../../protocol/wire.js";
import type { HostPort } from "../../protocol/values.js";
import type { Logger } from "../log.js";
import { quoteForLog } from "../log.js";
import type { Incoming } from "../storage/store.js";
import { PromptSMTPServer } from "./prompt-server.js";

/** Idle time after which a silent session is closed. */
export const SMTP_SOCKET_TIMEOUT_MS = 60_000;

export interface SmtpDeps {
  maxMessageSizeBytes: number;
  domains: readonly string[];
  shutdownGraceMs: number;
  /** Server name used in the greeting. */
  name?: string;
  log: Logger;
  /** Parses and commits one message; resolves once it is durable. */
  ingest: (incoming: Incoming) => Promise<Message>;
}

export interface SmtpListener {
  address: HostPort;
  /** Stops accepting, lets sessions finish within the grace period, then answers 421 to the rest. */
  close(): Promise<void>;
}

type SmtpError = Error & { responseCode?: number };

function smtpError(code: number, message: string): SmtpError {
  return Object.assign(new Error(message), { responseCode: code });
}

function envelopeOf(session: SMTPServerSession): { from: string; to: string[] } {
  const mailFrom = session.envelope.mailFrom;
  return {
    from: mailFrom ? mailFrom.address : "",
    to: session.envelope.rcptTo.map((r) => r.address),
  };
}

/** Reads the message; beyond maxBytes it only drains (smtp-server keeps streaming an oversized message). */
function readAll(stream: SMTPServerDataStream, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    stream.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks = [];
        return;
      }
      chunks.push(chunk);
    });
    stream.on("end", () => resolve(size > maxBytes ? Buffer.alloc(0) : Buffer.concat(chunks, size)));
    stream.on("error", reject);
  });
}

export async function startSmtp(listen: HostPort, deps: SmtpDeps): Promise<SmtpListener> {
  const { log } = deps;
  const server = new PromptSMTPServer({
    name: deps.name,
    logger: false,
    disableReverseLookup: true,
    size: deps.maxMessageSizeBytes,
    rejectOversized: true,
    hideENHANCEDSTATUSCODES: false,
    hidePIPELINING: false,
    hide8BITMIME: false,
    hideSMTPUTF8: false,
    hideDSN: true,
    // STARTTLS and AUTH come with the VM hardening (--tls-cert, --auth accept-any);
    // until then neither is advertised and no AUTH is needed.
    disabledCommands: ["STARTTLS", "AUTH"],
    hideSTARTTLS: true,
    authOptional: true,
    socketTimeout: SMTP_SOCKET_TIMEOUT_MS,

    onRcptTo(address, session, callback) {
      if (deps.domains.length && !deps.domains.some((d) => addressMatches("@" + d, address.address))) {
        log.info(
          "smtp",
          `rejected rcpt=<${address.address}> ip=${session.remoteAddress}: domain not accepted here`,
        );
        return callback(smtpError(550, `<${address.address}>: recipient domain not accepted here`));
      }
      callback();
    },

    onData(stream, session, callback) {
      const envelope = envelopeOf(session);
      readAll(stream, deps.maxMessageSizeBytes)
        .then(async (raw) => {
          if (stream.sizeExceeded) {
            log.info(
              "smtp",
              `rejected from=<${envelope.from}> size>${deps.maxMessageSizeBytes} ip=${session.remoteAddress}: too big`,
            );
            return callback(
              smtpError(552, `message exceeds fixed maximum message size ${deps.maxMessageSizeBytes}`),
            );
          }
          const message = await deps.ingest({
            raw,
            envelope,
            remoteIp: session.remoteAddress,
            heloName: session.hostNameAppearsAs || "",
            tls: Boolean(session.secure),
            authUser: typeof session.user === "string" ? session.user : null,
            receivedAt: Date.now(),
          });
          log.info(
            "smtp",
            `accepted ${message.id} from=<${envelope.from}> to=${envelope.to.map((a) => `<${a}>`).join(",")} ` +
              `subject=${quoteForLog(message.subject)} size=${message.size} ip=${session.remoteAddress}`,
          );
          callback(null, `Ok: queued as ${message.id}`);
        })
        .catch((err: Error) => {
          log.error("smtp", `failed from=<${envelope.from}> ip=${session.remoteAddress}: ${err.message}`);
          callback(smtpError(451, "Requested action aborted: local error in processing, try again later"));
        });
    },
  });

  server.on("error", (err: Error & { remote?: string }) => {
    // Socket-level trouble of one session (resets, timeouts); the server goes on.
    log.error("smtp", `session error${err.remote ? ` ip=${err.remote}` : ""}: ${err.message}`);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new Error(`could not listen for SMTP on ${listen.host}:${listen.port}: ${err.message}`));
    server.server.once("error", onError);
    server.listen(listen.port, listen.host, () => {
      server.server.off("error", onError);
      resolve();
    });
  });
  const addr = server.server.address();
  const address = typeof addr === "object" && addr ? { host: addr.address, port: addr.port } : listen;

  return {
    address,
    close: () => server.drain(deps.shutdownGraceMs),
  };
}
