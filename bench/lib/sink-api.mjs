// The two calls the harness makes to our sink's HTTP API besides the stream.
/* global AbortSignal -- Node 20 global, not in the shared eslint globals list */
import { performance } from "node:perf_hooks";

const REQUEST_TIMEOUT_MS = 30_000;

export async function health(httpUrl) {
  const res = await fetch(`${httpUrl}/api/v1/health`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`GET ${httpUrl}/api/v1/health -> ${res.status}`);
  return res.json();
}

/** GETs path and reads the whole body; returns elapsed ms and the parsed JSON. */
export async function timedGet(httpUrl, path) {
  const t0 = performance.now();
  const res = await fetch(`${httpUrl}${path}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const body = await res.json();
  const ms = performance.now() - t0;
  if (!res.ok) throw new Error(`GET ${path} -> ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
  return { ms, body, at: performance.now() };
}
