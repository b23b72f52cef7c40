// The VM sink's web UI on the laptop: `tun up` listens on --ui HOST:PORT and
// passes HTTP requests and WebSocket upgrades to the VM's sink through a local
// forward over the tunnel's SSH connection (new connections use the current
// one, so after a reconnect the UI's next request or stream reconnect works).
//
// The sink's Host and Origin rules must not be bypassed by this hop: the proxy
// answers only requests addressed to its own listen address, and only
// same-origin (or Origin-less) ones; it then rewrites Host, and a same-origin
// Origin, to the sink's own address. A foreign page therefore gets a 403 here
// instead of being relayed to the sink as if it were the UI itself. The
// decisions are the sink's own pure functions (protocol/http-origin.ts).
import {
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { allowedHosts, checkHost, checkOrigin } from "../../protocol/http-origin.js";
import { formatHostPort, type HostPort } from "../../protocol/values.js";
import type { DeliverySettings } from "../deliver/options.js";
import { LocalForward } from "./local-forward.js";
import type { SshClient } from "./ssh-connect.js";
import { uiDeliverHook } from "./ui-deliver.js";

/** Longest a proxied request may wait for the sink's answer to start, ms (the API's /wait holds up to 300 s). */
const UPSTREAM_TIMEOUT_MS = 310_000;
/** Hop-by-hop headers (RFC 9110 §7.6.1) that must not be passed on. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

export interface UiProxyOptions {
  /** Where to listen on the laptop (port 0: a free one). */
  listen: HostPort;
  /** The sink's HTTP listener on the VM (config `sink`). */
  sink: HostPort;
  /** The tunnel's current SSH connection (null while it is down). */
  currentClient: () => SshClient | null;
  /** The SSH user, named if sshd refuses the forward. */
  user: string;
  /** The tunnel's --deliver settings: the UI then offers "Deliver to app" (ui-deliver.ts). */
  deliver?: DeliverySettings;
}

/** The Host values that address this listener: the sink's own rules (protocol/http-origin.ts) for its address. */
export function acceptedHosts(listen: HostPort, boundPort: number): Set<string> {
  return allowedHosts({ host: listen.host, port: boundPort });
}

/**
 * Why a request must not pass, or null: the same decisions as the sink's own
 * (Host names this listener; Origin, when sent, is this listener's origin),
 * applied to the address the browser actually used.
 */
export function refusal(headers: IncomingHttpHeaders, hosts: Set<string>): string | null {
  const policy = { hosts, corsOrigins: new Set<string>() };
  if (!checkHost(headers, policy).ok) return `Host "${headers.host ?? ""}" is not this UI's address`;
  if (!checkOrigin(headers, policy).ok) return `Origin "${String(headers.origin)}" is not this UI's origin`;
  return null;
}

/** Headers for the sink: Host (and a same-origin Origin) say the sink's own address. */
export function upstreamHeaders(headers: IncomingHttpHeaders, sink: string): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  }
  out.host = sink;
  if (headers.origin !== undefined) out.origin = `http://${sink}`;
  // The Referer names the laptop's port; the sink has no use for it.
  delete out.referer;
  return out;
}

function refuse(res: ServerResponse, why: string): void {
  const body = JSON.stringify({ error: { code: "forbidden", message: why } });
  res.writeHead(403, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

export class UiProxy {
  private server: Server | null = null;
  private readonly forward: LocalForward;
  private readonly sinkText: string;
  private readonly sockets = new Set<Socket>();
  private hosts = new Set<string>();
  private readonly deliverHook: ((req: IncomingMessage, res: ServerResponse) => boolean) | null;
  port = 0;

  constructor(private readonly o: UiProxyOptions) {
    this.sinkText = formatHostPort(o.sink);
    this.forward = new LocalForward("mail UI", o.currentClient, () => o.sink, o.user);
    this.deliverHook = o.deliver
      ? uiDeliverHook(o.deliver, () => `http://127.0.0.1:${this.forward.port}`)
      : null;
  }

  /** http://HOST:PORT/ of the listener. */
  get url(): string {
    const host =
      this.o.listen.host === "0.0.0.0" || this.o.listen.host === "::" ? "127.0.0.1" : this.o.listen.host;
    return `http://${formatHostPort({ host, port: this.port })}/`;
  }

  async start(): Promise<void> {
    await this.forward.listen();
    const server = createServer((req, res) => this.onRequest(req, res));
    server.on("upgrade", (req: IncomingMessage, sock: Socket, head: Buffer) =>
      this.onUpgrade(req, sock, head),
    );
    server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.once("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) =>
        reject(
          new Error(`cannot listen for the mail UI on ${formatHostPort(this.o.listen)}: ${err.message}`),
        ),
      );
      server.listen(this.o.listen.port, this.o.listen.host, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.hosts = acceptedHosts(this.o.listen, this.port);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const why = refusal(req.headers, this.hosts);
    if (why) return refuse(res, why);
    if (this.deliverHook?.(req, res)) return;
    const up = request(
      {
        host: "127.0.0.1",
        port: this.forward.port,
        method: req.method,
        path: req.url,
        headers: upstreamHeaders(req.headers, this.sinkText),
        agent: false,
        timeout: UPSTREAM_TIMEOUT_MS,
      },
      (answer) => {
        const headers = { ...answer.headers };
        for (const h of HOP_BY_HOP) delete headers[h];
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
      },
    );
    up.on("timeout", () => up.destroy(new Error("timed out")));
    up.on("error", (err) => {
      if (res.headersSent) return void res.destroy();
      const body = JSON.stringify({
        error: {
          code: "unavailable",
          message: `the VM's sink at ${this.sinkText} cannot be reached through the tunnel: ${this.forward.lastOpenError ?? err.message}`,
        },
      });
      res.writeHead(503, { "content-type": "application/json" });
      res.end(body);
    });
    res.on("close", () => up.destroy());
    req.pipe(up);
  }

  private onUpgrade(req: IncomingMessage, sock: Socket, head: Buffer): void {
    const why = refusal(req.headers, this.hosts);
    if (why) {
      const body = JSON.stringify({ error: { code: "forbidden", message: why } });
      sock.end(
        `HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      return;
    }
    const headers = upstreamHeaders(req.headers, this.sinkText);
    // The upgrade itself is hop-by-hop but must reach the sink.
    headers.connection = "Upgrade";
    headers.upgrade = req.headers.upgrade;
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (const [k, v] of Object.entries(headers)) {
      for (const value of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${value}`);
    }
    const up = connect({ host: "127.0.0.1", port: this.forward.port });
    up.once("connect", () => {
      up.write(lines.join("\r\n") + "\r\n\r\n");
      if (head.length) up.write(head);
      up.pipe(sock).pipe(up);
    });
    const close = () => {
      up.destroy();
      sock.destroy();
    };
    up.on("error", close);
    up.once("close", close);
    sock.on("error", close);
    sock.once("close", close);
  }

  /** Idempotent. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) {
      for (const s of this.sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.forward.close();
  }
}
