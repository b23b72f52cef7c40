// WebSocket stream: GET /api/v1/stream?to=…&since=ID.
//
// Replay and live without gap or duplicate: each subscriber has a cursor (the
// last id sent). Replay asks the reader worker for the ids after the cursor
// (a batch of ids, never of messages), then reads and sends one message at a
// time, each only once the send buffer is below the low-water mark: memory is
// bounded by the send buffer plus the largest single message, whatever since=
// is. From the moment an id query is issued, live commits that match are
// noted (ids only); the worker's snapshot starts after the query was issued,
// so every message is in the query's answer or among the noted ids (both are
// checked against the cursor). When a short batch and the noted ids have all
// been sent, the subscriber switches to live in that same tick.
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
import { ReadAbandoned } from "../storage/reader.js";
import { ULID_RE, type MessageStore } from "../storage/store.js";

/** Send buffer above which a subscriber is closed with 1013 (it resumes with since=). */
export const MAX_SUBSCRIBER_BUFFER_BYTES = 4 * 1024 * 1024;
/** Replay continues only while the send buffer is below this. */
export const REPLAY_LOW_WATER_BYTES = 256 * 1024;
/** How often a paused replay checks whether the send buffer has drained. */
const DRAIN_POLL_MS = 10;
/** Message ids asked of the reader per replay step. */
export const REPLAY_BATCH_IDS = 1_000;
/** Live ids noted while a replay runs; beyond it they are dropped and the reader is asked again from the cursor. */
export const REPLAY_NOTED_IDS_MAX = 10_000;
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
  /** While replaying: ids still to send, oldest first. */
  pending: string[];
  /** While replaying: matching ids committed since the last id query was issued. */
  noted: string[];
  /** Noted ids were dropped (too many): the reader must be asked again. */
  notedOverflow: boolean;
  /** The last id query came back short: past its answer only noted ids remain. */
  caughtUp: boolean;
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
    const sub: Subscriber = {
      ws,
      patterns,
      cursor: since,
      live: since === null,
      alive: true,
      ip,
      pending: [],
      noted: [],
      notedOverflow: false,
      caughtUp: false,
    };
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

  private open(sub: Subscriber): boolean {
    return sub.ws.readyState === sub.ws.OPEN && this.subscribers.has(sub);
  }

  /** One replay step; each step ends by scheduling the next, until the subscriber is live. */
  private replay(sub: Subscriber): void {
    if (!this.open(sub) || sub.live) return;
    const next = sub.pending.shift();
    if (next !== undefined) {
      if (sub.cursor !== null && next <= sub.cursor) return this.replay(sub);
      // one message in memory at a time, read only when the socket can take it
      if (sub.ws.bufferedAmount > REPLAY_LOW_WATER_BYTES) {
        sub.pending.unshift(next);
        return this.whenDrained(sub, () => this.replay(sub));
      }
      const m = this.store.get(next); // a single row by id: bounded; null if deleted meanwhile
      if (m) sub.ws.send(JSON.stringify({ type: "message", data: m }));
      sub.cursor = next;
      return void setImmediate(() => this.replay(sub));
    }
    if (sub.caughtUp && !sub.notedOverflow) {
      if (!sub.noted.length) {
        // everything up to now is sent, in the same tick as the check: commits arrive via publish()
        sub.live = true;
        return;
      }
      sub.pending = sub.noted;
      sub.noted = [];
      return this.replay(sub);
    }
    this.queryIds(sub);
  }

  private queryIds(sub: Subscriber): void {
    sub.noted = [];
    sub.notedOverflow = false;
    sub.caughtUp = false;
    this.store
      .read({ kind: "replayIds", afterId: sub.cursor!, patterns: sub.patterns, limit: REPLAY_BATCH_IDS })
      .then(
        (rows) => {
          sub.pending = rows.map((r) => r.id);
          sub.caughtUp = rows.length < REPLAY_BATCH_IDS;
          this.replay(sub);
        },
        (err: Error) => {
          if (!this.open(sub)) return;
          const why = err instanceof ReadAbandoned ? err.message : `replay failed: ${err.message}`;
          this.log.error(
            "stream",
            `replay for ip=${sub.ip} stopped (${why}); closing with ${WS_CLOSE_TRY_AGAIN_LATER}`,
          );
          sub.ws.close(
            WS_CLOSE_TRY_AGAIN_LATER,
            `try again; resume with since=${sub.cursor ?? ""}`.slice(0, 120),
          );
          this.subscribers.delete(sub);
        },
      );
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
      if (!sub.live) {
        this.note(sub, messages);
        continue;
      }
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

  /** A replaying subscriber notes the ids of matching commits (it sends them itself, in order). */
  private note(sub: Subscriber, messages: readonly Message[]): void {
    if (sub.notedOverflow) return;
    for (const m of messages) {
      if (sub.cursor !== null && m.id <= sub.cursor) continue;
      if (!matchesTo(sub.patterns, m)) continue;
      if (sub.noted.length >= REPLAY_NOTED_IDS_MAX) {
        sub.noted = [];
        sub.notedOverflow = true;
        return;
      }
      sub.noted.push(m.id);
    }
  }

  publishDeleted(ids: readonly string[]): void {
    if (!ids.length) return;
    this.broadcast({ type: "deleted", data: { ids: [...ids] } });
  }

  /** Read state changes go to every subscriber (whatever its to= patterns), like deletions. */
  publishRead(ids: readonly string[], read: boolean): void {
    if (!ids.length) return;
    this.broadcast({ type: "read", data: { ids: [...ids], read } });
  }

  private broadcast(frame: StreamFrame): void {
    const text = JSON.stringify(frame);
    for (const sub of this.subscribers) if (sub.ws.readyState === sub.ws.OPEN) sub.ws.send(text);
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
