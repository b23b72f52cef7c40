// The printing loop shared by `tun watch` and `tun up`: streams messages from a
// sink, prints each one (console block or NDJSON) and reports outages once.
import type { SinkClient } from "@tunmail/client";
import { printableJson } from "../../protocol/printable.js";
import { formatMessage } from "./render.js";

/** Messages read from the stream but not printed yet (their /extract in flight) before reading waits. */
export const EXTRACT_AHEAD = 16;

export const NOTICE_RECONNECTING = "connection to the sink lost; reconnecting…";
export const NOTICE_RECONNECTED = "reconnected";

export interface PrintStreamOptions {
  client: SinkClient;
  /** Address / `@domain` patterns; empty means every message. */
  to: string[];
  /** Replay from after this id; default: only messages arriving from now on. */
  since?: string;
  /** NDJSON (the `message` frame's data, one per line) instead of the console block. */
  json: boolean;
  color: boolean;
  out: NodeJS.WritableStream;
  signal: AbortSignal;
  /** Receives NOTICE_RECONNECTING once per outage and NOTICE_RECONNECTED when it ends. */
  notice: (line: string) => void;
  /** Called once the first connection is up (messages from then on will be printed). */
  onConnected?: () => void;
}

/**
 * Prints until `signal` aborts, then resolves with the id of the last message
 * printed. Rejects (e.g. SinkUnreachableError) only when the first connection fails
 * or the sink rejects the request; later drops are retried forever.
 */
export async function printStream(opts: PrintStreamOptions): Promise<{ lastId: string | null }> {
  let lastId: string | null = null;
  const stream = opts.client.stream({
    to: opts.to.length ? opts.to : undefined,
    since: opts.since,
    signal: opts.signal,
    onReconnecting: () => opts.notice(NOTICE_RECONNECTING),
    onReconnected: () => opts.notice(NOTICE_RECONNECTED),
    onConnected: () => opts.onConnected?.(),
  });
  // Each block waits for its message's code (the sink's /extract) and blocks print in arrival order;
  // the requests run ahead of printing, so a burst or a slow tunnel costs one round trip, not one each.
  let printed: Promise<void> = Promise.resolve();
  let pending = 0;
  for await (const msg of stream) {
    const text = opts.json
      ? Promise.resolve(printableJson(msg))
      : opts.client.extract(msg.id, { signal: opts.signal }).then(
          (e) => formatMessage(msg, { color: opts.color, code: e.codes[0] }) + "\n",
          // deleted meanwhile, or an older sink without /extract: the block without a Code line
          () => formatMessage(msg, { color: opts.color }) + "\n",
        );
    pending++;
    printed = printed.then(async () => {
      await write(opts.out, (await text) + "\n", opts.signal);
      lastId = msg.id;
      pending--;
    });
    if (pending >= EXTRACT_AHEAD) await printed;
  }
  await printed;
  return { lastId };
}

/** Writes and, when the stream's buffer is full, waits for it to drain (or for the abort). */
function write(out: NodeJS.WritableStream, text: string, signal: AbortSignal): Promise<void> {
  if (out.write(text)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      out.off("drain", done);
      out.off("error", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    out.once("drain", done);
    out.once("error", done);
    signal.addEventListener("abort", done, { once: true });
  });
}
