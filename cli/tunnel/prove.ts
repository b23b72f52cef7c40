// Proves the whole chain before `tun up` declares success: a request made on
// the VM to Caddy with Host: <name>.<domain> must come back through the SSH
// remote forward to the local app. When it does not, the error names the hop.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import type { LocalForward } from "./local-forward.js";
import type { RemoteForward } from "./remote-forward.js";

const PROBE_TIMEOUT_MS = 10_000;
const PROBE_PATH = "/";
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

/** Checks that something accepts TCP connections on localhost:port. */
export function localAppListening(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = connect({ host: "localhost", port });
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

function get(
  port: number,
  hostHeader: string,
  tls: boolean,
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
        ...(authorization ? { authorization } : {}),
      },
      timeout: PROBE_TIMEOUT_MS,
    };
    const onRes = (res: IncomingMessage) => {
      res.resume();
      res.once("end", () => resolve({ status: res.statusCode ?? 0 }));
      res.once("error", (err) => resolve({ error: err.message }));
    };
    // The probe checks routing, not the certificate (it may still be being issued).
    const req = tls
      ? httpsRequest({ ...opts, servername: hostHeader, rejectUnauthorized: false }, onRes)
      : httpRequest(opts, onRes);
    req.once("timeout", () => req.destroy(new Error("timed out")));
    req.once("error", (err) => resolve({ error: err.message }));
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
  const before = t.remote.accepted;
  // A new name on a TLS listener has no certificate until Caddy has obtained
  // one (seconds with ACME, none with a wildcard): until then the handshake
  // fails while the SSH channel to Caddy opened fine. Keep trying for a while.
  const certDeadline = Date.now() + t.certWaitMs;
  let viaCaddy = await get(t.caddy.port, t.publicHost, t.caddyTls, t.authorization);
  let waited = false;
  const tlsNotReady = (): boolean =>
    t.caddyTls && "error" in viaCaddy && t.remote.accepted === before && !t.caddy.lastOpenError;
  while (tlsNotReady() && Date.now() < certDeadline) {
    if (!waited) t.onCertWait();
    waited = true;
    await new Promise((r) => setTimeout(r, CERT_RETRY_MS));
    viaCaddy = await get(t.caddy.port, t.publicHost, t.caddyTls, t.authorization);
  }
  if (tlsNotReady()) {
    throw new ChainError(
      "Caddy",
      `Caddy at ${t.caddyListen} did not complete a TLS handshake for ${t.publicHost} ` +
        `(${"error" in viaCaddy ? viaCaddy.error : "?"}); it may still be obtaining the certificate: see Caddy's log on the VM`,
    );
  }
  const reachedForward = t.remote.accepted > before;
  if (reachedForward && t.remote.lastLocalError) {
    throw new ChainError(
      "local app",
      `the request reached this machine but localhost:${t.localPort} refused it (${t.remote.lastLocalError})`,
    );
  }
  if (reachedForward && "status" in viaCaddy) return;
  if ("error" in viaCaddy && !reachedForward) {
    const why = t.caddy.lastOpenError ?? viaCaddy.error;
    throw new ChainError("Caddy", `cannot reach Caddy on the VM at ${t.caddyListen}: ${why}`);
  }
  // Caddy answered without using our forward: check the forward on its own.
  const direct = await get(t.direct.port, t.publicHost, false);
  if ("error" in direct && t.remote.accepted === before) {
    throw new ChainError(
      "forward",
      `the SSH remote forward (VM port ${t.remote.remotePort}) does not reach this machine: ${t.direct.lastOpenError ?? direct.error}`,
    );
  }
  const answer = "status" in viaCaddy ? `HTTP ${viaCaddy.status}` : viaCaddy.error;
  throw new ChainError(
    "Caddy",
    `Caddy at ${t.caddyListen} answered ${answer} for Host: ${t.publicHost} without using the tunnel; ` +
      `another route in the server may match first`,
  );
}
