// The web UI: index.html for the UI's own paths (/ and /messages/<id>, so the
// browser's reload, back and forward work), and the built assets under
// /assets/ with content-hashed names. The files come from sink/dist/web/,
// which `npm run build` writes (scripts/build-web.mjs).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { HttpError } from "./respond.js";

/**
 * The UI page's policy. No inline script or style; the mail's HTML is framed
 * from the sink's own /html endpoint (frame-src 'self'), attachment previews
 * are same-origin images, and the stream is a same-origin WebSocket
 * (connect-src 'self' covers ws: and wss: on the same host and port).
 */
export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "frame-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Hashed assets never change under their name. */
const ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable";
/** Levels walked up from this module to find the built UI (source and dist layouts differ). */
const MAX_LEVELS_UP = 5;

const UI_PAGE_RE = /^\/(?:messages\/[0-9A-Za-z]{26})?$/;
const ASSET_RE = /^\/assets\/([A-Za-z0-9_-]{1,100}\.(js|css|svg|png|woff2))$/;
const ASSET_TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  woff2: "font/woff2",
};

/** Finds sink/dist/web (from source: sink/http/ → sink/dist/web; from dist/sink/http/ → ../../sink/dist/web). */
function findWebDir(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i <= MAX_LEVELS_UP; i++) {
    for (const candidate of [join(dir, "dist", "web"), join(dir, "sink", "dist", "web")]) {
      if (existsSync(join(candidate, "index.html"))) return candidate;
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

let foundDir: string | null = null;
const assetCache = new Map<string, Buffer>();

function uiDir(dir: string | null): string {
  if (!dir) {
    throw new HttpError(
      503,
      "unavailable",
      "the web UI is not built: run `npm run build` (it writes sink/dist/web/), then reload",
    );
  }
  return dir;
}

function send(res: ServerResponse, type: string, body: Buffer, headers: Record<string, string>): void {
  res.writeHead(200, {
    "content-type": type,
    "content-length": body.length,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    ...headers,
  });
  res.end(body);
}

/** Answers a UI request and returns true, or returns false when the path is not the UI's. */
export function serveUi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  // looked up until found, so a build made while the sink runs is picked up on reload
  foundDir ??= findWebDir();
  return serveUiFrom(foundDir, req, res, url);
}

/** serveUi with the built UI's folder given (null: not built). */
export async function serveUiFrom(
  webDir: string | null,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<boolean> {
  const page = UI_PAGE_RE.test(url.pathname);
  const asset = ASSET_RE.exec(url.pathname);
  if (!page && !asset) return false;
  if (req.method !== "GET" && req.method !== "HEAD") {
    throw new HttpError(405, "method_not_allowed", `${req.method} is not allowed on ${url.pathname}`);
  }
  const dir = uiDir(webDir);
  if (page) {
    // read each time: small, and a rebuild shows up on reload
    const html = await readFile(join(dir, "index.html"));
    send(res, "text/html; charset=utf-8", html, {
      "cache-control": "no-cache",
      "content-security-policy": UI_CSP,
      "x-frame-options": "DENY",
    });
    return true;
  }
  const [, name, ext] = asset!;
  const key = join(dir, name!);
  let body = assetCache.get(key);
  if (!body) {
    try {
      body = await readFile(join(dir, "assets", name!));
    } catch {
      throw new HttpError(404, "not_found", `no UI asset ${name}; reload the page`);
    }
    assetCache.set(key, body);
  }
  send(res, ASSET_TYPES[ext!]!, body, { "cache-control": ASSET_CACHE_CONTROL });
  return true;
}
