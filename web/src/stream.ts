// The live stream (/api/v1/stream) with resume: the cursor is the newest
// message id seen, and every reconnect asks for `since=<cursor>`, so the
// server replays exactly what was missed. The first connect sends no since=:
// its hello names the newest stored id, which becomes the cursor. The list's
// first page is read at the same time (main.tsx); ListModel.streamReady()
// re-reads its head once, so nothing falls between the two.
import { API_PREFIX, type HelloData } from "../../protocol/wire.js";
import type { Message, ReadData } from "./types.js";

/** The smallest id: `since=` this replays everything (a reconnect to a sink that was empty). */
const ZERO_ID = "00000000000000000000000000";
/** First reconnect delay, doubled per failure up to the max. */
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 4_000;

export type LiveState = "connecting" | "live" | "reconnecting";

export interface StreamHandlers {
  onState(state: LiveState): void;
  /** Each hello; `first` is the very first one of this page. */
  onHello(hello: HelloData, first: boolean): void;
  onMessage(m: Message): void;
  onDeleted(ids: string[]): void;
  onRead(data: ReadData): void;
}

export function connectStream(h: StreamHandlers): { close(): void } {
  let cursor: string | null = null;
  let hadHello = false;
  let delay = RECONNECT_MIN_MS;
  let ws: WebSocket | null = null;
  let timer: number | undefined;
  let closed = false;

  const open = (): void => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const since = hadHello ? `?since=${cursor ?? ZERO_ID}` : "";
    const sock = new WebSocket(`${scheme}://${location.host}${API_PREFIX}/stream${since}`);
    ws = sock;
    sock.onmessage = (ev: MessageEvent<string>) => {
      const frame = JSON.parse(ev.data) as { type: string; data: unknown };
      switch (frame.type) {
        case "hello": {
          const hello = frame.data as HelloData;
          const first = !hadHello;
          if (first) cursor = hello.lastId;
          hadHello = true;
          delay = RECONNECT_MIN_MS;
          h.onState("live");
          h.onHello(hello, first);
          break;
        }
        case "message": {
          const m = frame.data as Message;
          if (cursor === null || m.id > cursor) cursor = m.id;
          h.onMessage({ ...m, read: m.read ?? false });
          break;
        }
        case "deleted":
          h.onDeleted((frame.data as { ids: string[] }).ids);
          break;
        case "read":
          h.onRead(frame.data as ReadData);
          break;
      }
    };
    sock.onclose = () => {
      if (closed || ws !== sock) return;
      h.onState(hadHello ? "reconnecting" : "connecting");
      timer = window.setTimeout(open, delay);
      delay = Math.min(delay * 2, RECONNECT_MAX_MS);
    };
  };
  h.onState("connecting");
  open();
  return {
    close() {
      closed = true;
      window.clearTimeout(timer);
      ws?.close();
    },
  };
}
