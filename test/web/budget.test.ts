// The first load stays small: the JS and CSS that index.html references, and
// everything else in assets/, gzipped, within the 150 KB. Also the
// serving rules: hashed assets cached for a year, index.html revalidated, the
// UI's CSP, real paths for the list and a message, no build → a clear error.
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendError, type HttpError } from "../../sink/http/respond.js";
import { serveUiFrom } from "../../sink/http/ui.js";
import { ensureWebBuilt, startUiSink, WEB_DIR, type UiSink } from "./harness.js";

/** The budget for the first load, JS + CSS gzipped. */
const FIRST_LOAD_BUDGET_BYTES = 150 * 1024;

let sink: UiSink;

beforeAll(async () => {
  ensureWebBuilt();
  sink = await startUiSink();
});

afterAll(async () => {
  await sink?.stop();
});

describe("web UI: size and serving", () => {
  it("first load is at most 150 KB of JS and CSS, gzipped", () => {
    const index = readFileSync(join(WEB_DIR, "index.html"), "utf8");
    const referenced = [...index.matchAll(/(?:src|href)="\/assets\/([^"]+)"/g)].map((m) => m[1]!);
    expect(referenced.some((f) => f.endsWith(".js"))).toBe(true);
    expect(referenced.some((f) => f.endsWith(".css"))).toBe(true);
    // every asset counts, referenced or lazily loaded: nothing hides outside the budget
    const all = readdirSync(join(WEB_DIR, "assets"));
    for (const f of referenced) expect(all).toContain(f);
    const gzipped = all.reduce(
      (sum, f) => sum + gzipSync(readFileSync(join(WEB_DIR, "assets", f)), { level: 9 }).length,
      0,
    );
    console.log(`web UI first load: ${(gzipped / 1024).toFixed(1)} KB gzipped (${all.join(", ")})`);
    expect(gzipped).toBeLessThanOrEqual(FIRST_LOAD_BUDGET_BYTES);
  });

  it("serves index.html at / and /messages/<id>, assets immutable, with the UI's CSP", async () => {
    for (const path of ["/", "/?search=to:%40a.example", "/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV"]) {
      const res = await fetch(sink.url + path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      const csp = res.headers.get("content-security-policy")!;
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe-inline");
      const html = await res.text();
      expect(html).not.toMatch(/<script>|<style>|style="/);
    }
    const index = readFileSync(join(WEB_DIR, "index.html"), "utf8");
    const js = /src="(\/assets\/[^"]+\.js)"/.exec(index)![1]!;
    const res = await fetch(sink.url + js);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    // nothing from another origin: no absolute URL in the page or its code
    expect(index).not.toMatch(/(?:src|href)="https?:/);
  });

  it("answers unknown assets and other methods as JSON errors", async () => {
    const missing = await fetch(`${sink.url}/assets/nope-123.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("not_found");
    const post = await fetch(`${sink.url}/`, { method: "POST" });
    expect(post.status).toBe(405);
    const other = await fetch(`${sink.url}/elsewhere`);
    expect(other.status).toBe(404);
  });
});

describe("web UI: not built", () => {
  it("says to run the build instead of a bare 404", async () => {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://ui.invalid");
      serveUiFrom(null, req, res, url).catch((err: HttpError) => sendError(res, err));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("unavailable");
      expect(body.error.message).toContain("npm run build");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
