// The web UI's "Deliver to app" action, answered by `tun up`'s UI proxy itself
// when the tunnel delivers (--deliver): the VM sink knows nothing of the
// laptop's app, so the proxy says where deliveries go and performs them from
// the laptop with the tunnel's own settings, through the same code as
// `tun mail deliver` (cli/deliver/replay.ts).
//
//   GET  /api/v1/deliver                -> { target, format }
//   POST /api/v1/messages/<id>/deliver  -> { status, ms, error, head }
//
// The proxy's Host/Origin checks have run before these are reached, so a
// foreign page cannot trigger a delivery. A plain sink answers GET
// /api/v1/deliver with its JSON 404 (not_found): the UI shows no action then.
import type { IncomingMessage, ServerResponse } from "node:http";
import { SinkApiError, SinkClient } from "@tunmail/client";
import type { DeliverySettings } from "../deliver/options.js";
import { replayMessage } from "../deliver/replay.js";

const TARGET_PATH = "/api/v1/deliver";
const DELIVER_PATH_RE = /^\/api\/v1\/messages\/([^/]+)\/deliver$/;

/** What GET /api/v1/deliver answers. */
export interface DeliverTargetBody {
  target: string;
  format: string;
}

/** What POST /api/v1/messages/<id>/deliver answers (HTTP 200 whatever the app said). */
export interface DeliverResultBody {
  /** The app's HTTP status, or null when it gave none (refused, timed out). */
  status: number | null;
  ms: number;
  error: string | null;
  /** The start of the app's answer, as text. */
  head: string;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

/**
 * A request hook for the proxy: true when it answered the request (one of the
 * two endpoints above), false to let the proxy pass it on to the sink.
 * `sinkUrl` reaches the VM sink (the proxy's local forward).
 */
export function uiDeliverHook(
  settings: DeliverySettings,
  sinkUrl: () => string,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = new URL(req.url ?? "/", "http://proxy.invalid").pathname;
    if (path === TARGET_PATH) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        sendError(res, 405, "method_not_allowed", `${req.method} is not allowed on ${path}`);
      } else {
        const body: DeliverTargetBody = { target: settings.target.url.toString(), format: settings.format };
        sendJson(res, 200, body);
      }
      return true;
    }
    const id = DELIVER_PATH_RE.exec(path)?.[1];
    if (id === undefined) return false;
    if (req.method !== "POST") {
      sendError(res, 405, "method_not_allowed", `${req.method} is not allowed on ${path}`);
      return true;
    }
    req.resume(); // the request body, if any, means nothing here
    void deliver(settings, new SinkClient(sinkUrl()), id, res);
    return true;
  };
}

async function deliver(
  settings: DeliverySettings,
  client: SinkClient,
  id: string,
  res: ServerResponse,
): Promise<void> {
  try {
    const r = await replayMessage({
      client,
      id: decodeURIComponent(id),
      target: settings.target,
      format: settings.format,
      signingKey: settings.signingKey,
      timeoutMs: settings.timings.requestTimeoutMs,
    });
    const body: DeliverResultBody = {
      status: r.status,
      ms: r.ms,
      error: r.error,
      head: r.head.toString("utf8"),
    };
    sendJson(res, 200, body);
  } catch (err) {
    if (res.headersSent) return;
    if (err instanceof URIError) {
      sendError(res, 404, "not_found", "no message with that id");
    } else if (err instanceof SinkApiError) {
      sendError(res, err.status, err.code, err.message);
    } else {
      const why = err instanceof Error ? err.message : String(err);
      sendError(res, 503, "unavailable", `the VM's sink could not be read for delivery: ${why}`);
    }
  }
}
