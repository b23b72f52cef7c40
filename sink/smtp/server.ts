// The SMTP listeners: accepts every message (no relaying, no AUTH by default),
// hands it to the ingest pipeline and answers 250 only once it is committed.
// STARTTLS is always offered; --smtps adds a second listener with implicit
// TLS; both share one set of limits (limits.ts).
import type { SMTPServerDataStream, SMTPServerOptions, SMTPServerSession } from "smtp-server";
import { addressMatches, type Message } from "../../protocol/wire.js";
import { formatHostPort, type HostPort } from "../../protocol/values.js";
import type { Logger } from "../log.js";
import { quoteForLog } from "../log.js";
import type { Incoming } from "../storage/store.js";
import { Admission, DEFAULT_SMTP_LIMITS, type SmtpLimits } from "./limits.js";
import { PromptSMTPServer } from "./prompt-server.js";
import type { AuthMode } from "./options.js";
import { loadTls, type TlsFiles } from "./tls.js";

export interface SmtpDeps {
  maxMessageSizeBytes: number;
  domains: readonly string[];
  shutdownGraceMs: number;
  /** Server name used in the greeting. */
  name?: string;
  log: Logger;
  /** Parses and commits one message; resolves once it is durable. */
  ingest: (incoming: Incoming) => Promise<Message>;
  limits?: SmtpLimits;
  /** Certificate files (null: a self-signed one kept in stateDir); absent: no STARTTLS, no smtps. */
  tls?: { files: TlsFiles; stateDir: string; require: boolean; smtps: HostPort | null };
  auth?: AuthMode;
}

export interface SmtpListener {
  address: HostPort;
  /** The implicit-TLS listener, when --smtps is given. */
  smtpsAddress: HostPort | null;
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
  const limits = deps.limits ?? DEFAULT_SMTP_LIMITS;
  const auth = deps.auth ?? "none";
  const tlsConf = deps.tls;
  const tls = tlsConf ? await loadTls(tlsConf.files, tlsConf.stateDir) : null;
  if (tls?.generated) log.info("smtp", `created a self-signed TLS certificate ${tls.certPath}`);
  const admission = new Admission(limits);
  const disabledCommands = [...(tls ? [] : ["STARTTLS"]), ...(auth === "accept-any" ? [] : ["AUTH"])];

  const options: SMTPServerOptions = {
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
    disabledCommands,
    hideSTARTTLS: !tls,
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    authOptional: true,
    authMethods: ["PLAIN", "LOGIN"],
    // AUTH in the clear is what apps with hard-wired credentials often do; --require-tls forbids it
    allowInsecureAuth: !tlsConf?.require,
    // also bounds the TLS handshakes of smtps clients in progress (smtp-server drops the rest)
    maxClients: limits.maxConnections,
    maxRecipients: limits.maxRecipients,
    maxCommandLength: limits.maxLineBytes,
    socketTimeout: limits.idleTimeoutMs,

    onAuth(authData, session, callback) {
      // accept-any: the point is to let apps that insist on credentials send; the name is kept with the message
      const user = authData.username ?? "";
      log.info(
        "smtp",
        `auth user=${quoteForLog(user)} method=${authData.method} ip=${session.remoteAddress}`,
      );
      callback(null, { user });
    },

    onMailFrom(address, session, callback) {
      if (tlsConf?.require && !session.secure) {
        log.info("smtp", `rejected from=<${address.address}> ip=${session.remoteAddress}: STARTTLS required`);
        return callback(smtpError(530, "5.7.0 Must issue a STARTTLS command first"));
      }
      const refusal = admission.takeMessage(session.remoteAddress);
      if (refusal) {
        log.info("smtp", `rejected from=<${address.address}> ip=${session.remoteAddress}: ${refusal.why}`);
        return callback(smtpError(refusal.code, refusal.text));
      }
      callback();
    },

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
              `subject=${quoteForLog(message.subject)} size=${message.size} ip=${session.remoteAddress}` +
              (message.authUser !== null ? ` user=${quoteForLog(message.authUser)}` : "") +
              (message.tls ? " tls" : ""),
          );
          callback(null, `Ok: queued as ${message.id}`);
        })
        .catch((err: Error) => {
          log.error("smtp", `failed from=<${envelope.from}> ip=${session.remoteAddress}: ${err.message}`);
          callback(smtpError(451, "Requested action aborted: local error in processing, try again later"));
        });
    },
  };

  const plain = new PromptSMTPServer(options);
  const servers = [plain];
  if (tls && tlsConf?.smtps) servers.push(new PromptSMTPServer({ ...options, secure: true }));
  for (const server of servers) {
    server.admission = admission;
    server.sessionTimeoutMs = limits.sessionTimeoutMs;
    server.onRefused = (ip, r) => log.info("smtp", `refused connection ip=${ip}: ${r.why} (${r.code})`);
    server.onSessionTimeout = (ip) =>
      log.info("smtp", `closed session ip=${ip}: longer than ${limits.sessionTimeoutMs} ms`);
    server.on("error", (err: Error & { remote?: string; remoteAddress?: string }) => {
      // Socket-level trouble of one session (resets, timeouts, TLS garbage); the server goes on.
      const ip = err.remote ?? err.remoteAddress;
      log.error("smtp", `session error${ip ? ` ip=${ip}` : ""}: ${err.message}`);
    });
  }

  const address = await listenOn(plain, listen, "SMTP");
  let smtpsAddress: HostPort | null = null;
  try {
    if (servers[1]) smtpsAddress = await listenOn(servers[1], tlsConf!.smtps!, "SMTPS");
  } catch (err) {
    await plain.drain(0);
    throw err;
  }

  return {
    address,
    smtpsAddress,
    close: async () => {
      await Promise.all(servers.map((s) => s.drain(deps.shutdownGraceMs)));
      admission.close();
    },
  };
}

async function listenOn(server: PromptSMTPServer, listen: HostPort, what: string): Promise<HostPort> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new Error(`could not listen for ${what} on ${formatHostPort(listen)}: ${err.message}`));
    server.server.once("error", onError);
    server.listen(listen.port, listen.host, () => {
      server.server.off("error", onError);
      resolve();
    });
  });
  const addr = server.server.address();
  return typeof addr === "object" && addr ? { host: addr.address, port: addr.port } : listen;
}
