// The printing loop shared by `tun watch` and `tun up`: streams messages from a
// sink, prints each one (console block or NDJSON) and reports outages once.
import type { SinkClient } from "@tunmail/client";
import { printableJson } from "../../protocol/printable.js";
import { formatMessage } from "./render.js";

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
  for await (const msg of stream) {
    const text = opts.json ? printableJson(msg) : formatMessage(msg, { color: opts.color }) + "\n";
    await write(opts.out, text + "\n", opts.signal);
    lastId = msg.id;
  }
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
