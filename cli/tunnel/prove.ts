// Proves the whole chain before `tun up` declares success: a request made on
// the VM to Caddy with Host: <name>.<domain> must come back through the SSH
// remote forward to the local app. When it does not, the error names the hop.
// Each probe carries a unique token, and only a request with that token counts
// as "came through": other traffic on the public URL during the proof (a stray
// curl, a crawler) neither proves nor disproves anything.
import { randomBytes } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import type { LocalForward } from "./local-forward.js";
import type { ProbeWatch, RemoteForward } from "./remote-forward.js";

const PROBE_TIMEOUT_MS = 10_000;
const PROBE_PATH = "/";
/** The header that carries a probe's token through Caddy to the forward. */
export const PROBE_TOKEN_HEADER = "x-tun-probe";
const PROBE_TOKEN_BYTES = 16;
/** Pause between probes while Caddy obtains a certificate for a new name, ms. */
const CERT_RETRY_MS = 1_000;

export class ChainError extends Error {
  constructor(
    readonly hop: "forward" | "Caddy" | "local app",
    message: string,
  ) {
    super(message);
    this.name = "ChainError";
  }
}

export interface ProbeTargets {
  /** Public host name, e.g. api.tun.example.com. */
  publicHost: string;
  localPort: number;
  remote: RemoteForward;
  /** Local forward to Caddy's listener on the VM, and how Caddy listens there. */
  caddy: LocalForward;
  caddyListen: string;
  caddyTls: boolean;
  /** Local forward to the remote-forward port on the VM (bypasses Caddy). */
  direct: LocalForward;
  /** How long to keep retrying while Caddy cannot complete a TLS handshake for the name yet, ms. */
  certWaitMs: number;
  /** Called once when the probe starts waiting for the certificate. */
  onCertWait: () => void;
  /** Authorization header for a route behind basic auth. */
  authorization?: string;
}

/**
 * A network error as one short line: Node's TLS errors carry OpenSSL's text
 * ("…:error:0A000438:SSL routines:…:SSL alert number 80\n"), which is noise
 * to a user and breaks the one-line rule; their code says the same.
 */
export function oneLineError(err: Error & { code?: string }): string {
  if (err.code?.startsWith("ERR_SSL_")) {
    return `TLS handshake failed (${err.code.slice("ERR_SSL_".length).toLowerCase().replace(/_/g, " ")})`;
  }
  if (err.code === "EPROTO" || /SSL routines/.test(err.message)) {
    const reason = /SSL routines:[^:]*:([^:\n]+)/.exec(err.message)?.[1];
    return `TLS handshake failed${reason ? ` (${reason.trim()})` : ""}`;
  }
  return (err.message.split("\n")[0] ?? "").trim() || String(err.code ?? "error");
}

function newToken(): string {
  return randomBytes(PROBE_TOKEN_BYTES).toString("hex");
}

/** Null when something accepts TCP connections at host:port, else why not ("connection refused", …). */
export function tcpListening(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    sock.setTimeout(PROBE_TIMEOUT_MS, () => sock.destroy(new Error("timed out")));
    sock.once("connect", () => {
      sock.destroy();
      resolve(null);
    });
    sock.once("error", (err: NodeJS.ErrnoException) =>
      resolve(err.code === "ECONNREFUSED" ? "connection refused" : err.message),
    );
  });
}

/** Checks that something accepts TCP connections on localhost:port. */
export function localAppListening(port: number): Promise<string | null> {
  return tcpListening("localhost", port);
}

function get(
  port: number,
  hostHeader: string,
  tls: boolean,
  token: string,
  authorization?: string,
): Promise<{ status: number } | { error: string }> {
  return new Promise((resolve) => {
    const opts = {
      host: "127.0.0.1",
      port,
      path: PROBE_PATH,
      method: "GET",
      headers: {
        host: hostHeader,
        "user-agent": "tun-chain-probe",
        connection: "close",
        [PROBE_TOKEN_HEADER]: token,
        ...(authorization ? { authorization } : {}),
      },
      timeout: PROBE_TIMEOUT_MS,
    };
    const onRes = (res: IncomingMessage) => {
      res.resume();
      res.once("end", () => resolve({ status: res.statusCode ?? 0 }));
      res.once("error", (err) => resolve({ error: oneLineError(err) }));
    };
    // The probe checks routing, not the certificate (it may still be being issued).
    const req = tls
      ? httpsRequest({ ...opts, servername: hostHeader, rejectUnauthorized: false }, onRes)
      : httpRequest(opts, onRes);
    req.once("timeout", () => req.destroy(new Error("timed out")));
    req.once("error", (err) => resolve({ error: oneLineError(err) }));
    req.end();
  });
}

/** Resolves when the chain works; throws ChainError naming the failed hop. */
export async function proveChain(t: ProbeTargets): Promise<void> {
  const local = await localAppListening(t.localPort);
  if (local) {
    throw new ChainError(
      "local app",
      `nothing is listening on localhost:${t.localPort} (${local}); start your app first or check the port`,
    );
  }
  const watch = t.remote.watchProbe(newToken());
  try {
    await proveThroughCaddy(t, watch);
  } finally {
    t.remote.unwatchProbe(watch);
  }
}

async function proveThroughCaddy(t: ProbeTargets, watch: ProbeWatch): Promise<void> {
  const viaCaddyGet = () => get(t.caddy.port, t.publicHost, t.caddyTls, watch.token, t.authorization);
  // A new name on a TLS listener has no certificate until Caddy has obtained
  // one (seconds with ACME, none with a wildcard): until then the handshake
  // fails while the SSH channel to Caddy opened fine. Keep trying for a while.
  const certDeadline = Date.now() + t.certWaitMs;
  let viaCaddy = await viaCaddyGet();
  let waited = false;
  const tlsNotReady = (): boolean =>
    t.caddyTls && "error" in viaCaddy && !watch.seen && !t.caddy.lastOpenError;
  while (tlsNotReady() && Date.now() < certDeadline) {
    if (!waited) t.onCertWait();
    waited = true;
    await new Promise((r) => setTimeout(r, CERT_RETRY_MS));
    viaCaddy = await viaCaddyGet();
  }
  if (tlsNotReady()) {
    throw new ChainError(
      "Caddy",
      `Caddy at ${t.caddyListen} did not complete a TLS handshake for ${t.publicHost} ` +
        `(${"error" in viaCaddy ? viaCaddy.error : "?"}); it may still be obtaining the certificate: see Caddy's log on the VM`,
    );
  }
  if (watch.seen && watch.localError) {
    throw new ChainError(
      "local app",
      `the request reached this machine but localhost:${t.localPort} refused it (${watch.localError})`,
    );
  }
  if (watch.seen && "status" in viaCaddy) return;
  if ("error" in viaCaddy && !watch.seen) {
    const why = t.caddy.lastOpenError ?? viaCaddy.error;
    const hop = t.caddy.lastOpenRefused ? "forward" : "Caddy";
    throw new ChainError(hop, `cannot reach Caddy on the VM at ${t.caddyListen}: ${why}`);
  }
  // Caddy answered without our token reaching the forward: check the forward on its own.
  const direct = t.remote.watchProbe(newToken());
  try {
    const res = await get(t.direct.port, t.publicHost, false, direct.token);
    if (!direct.seen) {
      const why = t.direct.lastOpenError ?? ("error" in res ? res.error : `HTTP ${res.status}`);
      throw new ChainError(
        "forward",
        `the SSH remote forward (VM port ${t.remote.remotePort}) does not reach this machine: ${why}`,
      );
    }
  } finally {
    t.remote.unwatchProbe(direct);
  }
  const answer = "status" in viaCaddy ? `HTTP ${viaCaddy.status}` : viaCaddy.error;
  throw new ChainError(
    "Caddy",
    `Caddy at ${t.caddyListen} answered ${answer} for Host: ${t.publicHost} without using the tunnel; ` +
      `another route in the server may match first`,
  );
}
