// One live stream subscriber on our sink (issue 7: the full pipeline runs with
// a subscriber connected). It counts message frames, remembers when each id
// arrived, and resumes with since=<last id> if the sink closes it (1013 for a
// subscriber that fell behind), counting how often that happened.
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";

const CONNECT_TIMEOUT_MS = 10_000;
const RECONNECT_DELAY_MS = 100;
/** Arrival times kept for matching probes; older ones are dropped. */
const MAX_TRACKED_ARRIVALS = 200_000;

export async function subscribe(httpUrl) {
  const base = httpUrl.replace(/^http/, "ws") + "/api/v1/stream";
  const state = { frames: 0, lastId: null, closes: [], reconnects: 0, errors: [] };
  const arrivals = new Map();
  const waiters = new Map();
  let ws = null;
  let closing = false;

  function onMessage(data) {
    const at = performance.now();
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      state.errors.push("unparseable frame");
      return;
    }
    if (frame.type !== "message") return;
    state.frames++;
    const id = frame.data?.id;
    state.lastId = id ?? state.lastId;
    if (!id) return;
    arrivals.set(id, at);
    if (arrivals.size > MAX_TRACKED_ARRIVALS) arrivals.delete(arrivals.keys().next().value);
    const w = waiters.get(id);
    if (w) {
      waiters.delete(id);
      w(at);
    }
  }

  function open() {
    const url = state.lastId ? `${base}?since=${encodeURIComponent(state.lastId)}` : base;
    return new Promise((resolve, reject) => {
      const sock = new WebSocket(url);
      const timer = setTimeout(() => {
        sock.terminate();
        reject(new Error(`stream ${url}: no hello within ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      let greeted = false;
      sock.on("message", (data) => {
        if (!greeted) {
          greeted = true;
          clearTimeout(timer);
          resolve(sock);
        }
        onMessage(data);
      });
      sock.on("error", (err) => {
        state.errors.push(err.message);
        if (!greeted) {
          clearTimeout(timer);
          reject(new Error(`stream ${url}: ${err.message}`));
        }
      });
      sock.on("close", (code) => {
        if (closing) return;
        state.closes.push(code);
        // Resume where we left off, as `tun watch` does.
        sleep(RECONNECT_DELAY_MS)
          .then(() => (closing ? null : open()))
          .then((s) => {
            if (s) {
              ws = s;
              state.reconnects++;
            }
          })
          .catch((e) => state.errors.push(e.message));
      });
    });
  }

  ws = await open();
  return {
    state,
    /** Resolves with the arrival time of the frame for id (at once if it came already). */
    arrivalOf(id, timeoutMs) {
      const at = arrivals.get(id);
      if (at !== undefined) return Promise.resolve(at);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(id);
          resolve(null);
        }, timeoutMs);
        waiters.set(id, (t) => {
          clearTimeout(timer);
          resolve(t);
        });
      });
    },
    /** Waits until at least count message frames arrived; resolves false on timeout. */
    async waitForFrames(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (state.frames < count && Date.now() < deadline) await sleep(20);
      return state.frames >= count;
    },
    close() {
      closing = true;
      ws?.close();
    },
  };
}
