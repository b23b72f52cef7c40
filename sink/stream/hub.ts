// WebSocket stream: GET /api/v1/stream?to=…&since=ID.
//
// Replay and live without gap or duplicate: each subscriber has a cursor (the
// last id sent). While replaying it reads stored messages after the cursor in
// batches and ignores live notifications; when a batch comes back short, it
// has caught up and switches to live in that same tick. Commits notify the hub
// synchronously right after the transaction, so every message is either in a
// replay read or arrives as a live notification, never both (ids are also
// checked against the cursor).
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import {
  PROTOCOL_VERSION,
  WS_CLOSE_TRY_AGAIN_LATER,
  type Message,
  type StreamFrame,
} from "../../protocol/wire.js";
import { printable } from "../../protocol/printable.js";
import { checkParams, STREAM_PATTERN_RE } from "../http/query.js";
import { HttpError, writeRawError } from "../http/respond.js";
import type { Logger } from "../log.js";
import { matchesTo } from "../storage/filter.js";
import { ULID_RE, type MessageStore } from "../storage/store.js";

/** Send buffer above which a subscriber is closed with 1013 (it resumes with since=). */
export const MAX_SUBSCRIBER_BUFFER_BYTES = 4 * 1024 * 1024;
/** Replay continues only while the send buffer is below this. */
export const REPLAY_LOW_WATER_BYTES = 256 * 1024;
/** How often a paused replay checks whether the send buffer has drained. */
const DRAIN_POLL_MS = 10;
/** Stored messages read per replay step. */
export const REPLAY_BATCH_MESSAGES = 100;
/** Largest frame a subscriber may send us (it has nothing to say). */
const MAX_INCOMING_FRAME_BYTES = 4 * 1024;

interface Subscriber {
  ws: WebSocket;
  patterns: string[];
  /** Last message id sent (or the since= it started from). */
  cursor: string | null;
  live: boolean;
  alive: boolean;
  ip: string;
}

export class StreamHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_INCOMING_FRAME_BYTES });
  private readonly subscribers = new Set<Subscriber>();
  private readonly pinger: NodeJS.Timeout;

  constructor(
    private readonly store: MessageStore,
    private readonly log: Logger,
    private readonly version: string,
    /** Interval between pings; a subscriber that missed the previous pong is dropped. */
    pingIntervalMs: number,
    /** --max-subscribers: beyond this, a new subscriber is closed with 1013 right after the handshake. */
    private readonly maxSubscribers: number,
  ) {
    this.pinger = setInterval(() => this.ping(), pingIntervalMs);
    this.pinger.unref();
  }

  get size(): number {
    return this.subscribers.size;
  }

  /** Handles an HTTP upgrade for /api/v1/stream (Host and Origin already checked); answers 400 for a bad query. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const refuse = (status: number, code: "not_found" | "bad_request", message: string): void =>
      writeRawError(socket, new HttpError(status, code, message));
    if (url.pathname !== "/api/v1/stream")
      return refuse(404, "not_found", `no WebSocket endpoint at ${printable(url.pathname)}`);
    try {
      checkParams("GET /stream", url.searchParams);
    } catch (err) {
      return refuse(400, "bad_request", (err as Error).message);
    }
    const patterns = url.searchParams
      .getAll("to")
      .flatMap((t) => t.split(","))
      .map((t) => t.trim())
      .filter((t) => t !== "");
    const bad = patterns.find((p) => !STREAM_PATTERN_RE.test(p));
    if (bad) return refuse(400, "bad_request", `to= must be an address or @domain, got "${printable(bad)}"`);
    const since = url.searchParams.get("since") || null;
    if (since && !ULID_RE.test(since))
      return refuse(400, "bad_request", `since= must be a message id, got "${printable(since)}"`);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const ip = req.socket.remoteAddress ?? "?";
      if (this.subscribers.size >= this.maxSubscribers) {
        this.log.info("stream", `subscriber refused ip=${ip}: ${this.maxSubscribers} subscribers already`);
        ws.close(WS_CLOSE_TRY_AGAIN_LATER, "too many subscribers; retry shortly");
        return;
      }
      this.subscribe(ws, patterns, since ? since.toUpperCase() : null, ip);
    });
  }

  private subscribe(ws: WebSocket, patterns: string[], since: string | null, ip: string): void {
    const sub: Subscriber = { ws, patterns, cursor: since, live: since === null, alive: true, ip };
    this.subscribers.add(sub);
    ws.on("pong", () => (sub.alive = true));
    ws.on("error", () => {});
    ws.on("close", (code) => {
      this.subscribers.delete(sub);
      this.log.info("stream", `subscriber left ip=${ip} code=${code} last=${sub.cursor ?? "-"}`);
    });
    this.log.info(
      "stream",
      `subscriber joined ip=${ip} to=${printable(patterns.join(",")) || "*"} since=${since ?? "-"}`,
    );
    this.sendFrame(sub, {
      type: "hello",
      data: { version: this.version, protocol: PROTOCOL_VERSION, lastId: this.store.lastId },
    });
    if (!sub.live) this.replay(sub);
  }

  private replay(sub: Subscriber): void {
    if (sub.ws.readyState !== sub.ws.OPEN) return;
    const batch = this.store.after(sub.cursor!, sub.patterns, REPLAY_BATCH_MESSAGES);
    for (const m of batch) {
      // Replay follows the socket's pace instead of tripping the slow-consumer bound:
      // pause when the buffer is up, then read again from the cursor.
      if (sub.ws.bufferedAmount > REPLAY_LOW_WATER_BYTES) {
        this.whenDrained(sub, () => setImmediate(() => this.replay(sub)));
        return;
      }
      sub.ws.send(JSON.stringify({ type: "message", data: m }));
      sub.cursor = m.id;
    }
    if (batch.length < REPLAY_BATCH_MESSAGES) {
      // caught up, in the same tick as the read: from here on commits arrive via publish()
      sub.live = true;
      return;
    }
    this.whenDrained(sub, () => setImmediate(() => this.replay(sub)));
  }

  /** Calls `next` once the subscriber's send buffer is below the low-water mark (ws has no drain event). */
  private whenDrained(sub: Subscriber, next: () => void): void {
    const check = (): void => {
      if (sub.ws.readyState !== sub.ws.OPEN) return;
      if (sub.ws.bufferedAmount <= REPLAY_LOW_WATER_BYTES) next();
      else setTimeout(check, DRAIN_POLL_MS).unref();
    };
    check();
  }

  /** Sends one message frame; closes the subscriber with 1013 when its buffer overflows. False when closed. */
  private sendMessage(sub: Subscriber, m: Message, frame: string): boolean {
    if (sub.ws.readyState !== sub.ws.OPEN) return false;
    if (sub.ws.bufferedAmount > MAX_SUBSCRIBER_BUFFER_BYTES) {
      this.log.info(
        "stream",
        `subscriber too slow ip=${sub.ip}: closing with ${WS_CLOSE_TRY_AGAIN_LATER} (resume with since=${sub.cursor})`,
      );
      sub.ws.close(WS_CLOSE_TRY_AGAIN_LATER, `too slow; resume with since=${sub.cursor ?? ""}`.slice(0, 120));
      this.subscribers.delete(sub);
      return false;
    }
    sub.ws.send(frame);
    sub.cursor = m.id;
    return true;
  }

  private sendFrame(sub: Subscriber, frame: StreamFrame): void {
    if (sub.ws.readyState === sub.ws.OPEN) sub.ws.send(JSON.stringify(frame));
  }

  /** Called synchronously after each commit, in commit order. */
  publish(messages: readonly Message[]): void {
    if (!this.subscribers.size) return;
    const frames = new Map<Message, string>();
    for (const sub of this.subscribers) {
      if (!sub.live) continue;
      for (const m of messages) {
        if (sub.cursor !== null && m.id <= sub.cursor) continue;
        if (!matchesTo(sub.patterns, m)) continue;
        let frame = frames.get(m);
        if (!frame) {
          frame = JSON.stringify({ type: "message", data: m });
          frames.set(m, frame);
        }
        if (!this.sendMessage(sub, m, frame)) break;
      }
    }
  }

  publishDeleted(ids: readonly string[]): void {
    if (!ids.length) return;
    const frame = JSON.stringify({ type: "deleted", data: { ids } });
    for (const sub of this.subscribers) if (sub.ws.readyState === sub.ws.OPEN) sub.ws.send(frame);
  }

  private ping(): void {
    for (const sub of this.subscribers) {
      if (!sub.alive) {
        this.log.info("stream", `subscriber ip=${sub.ip} missed a pong: dropping it`);
        sub.ws.terminate();
        this.subscribers.delete(sub);
        continue;
      }
      sub.alive = false;
      sub.ws.ping();
    }
  }

  /** Closes every subscriber with 1001 (going away); they resume with since= against the next sink. */
  close(): void {
    clearInterval(this.pinger);
    for (const sub of this.subscribers) sub.ws.close(1001, "sink shutting down");
    this.subscribers.clear();
    this.wss.close();
  }
}
