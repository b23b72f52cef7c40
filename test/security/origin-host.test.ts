// Issue 11: which requests the sink answers (Host, Origin, --http-host, --cors)
// and the headers on what it answers, against a real sink.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { sendMail } from "../client/send-mail.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { rawRequest } from "./raw-http.js";

let sink: TestSink;
beforeAll(async () => {
  sink = await startTestSink();
});
afterAll(async () => {
  await sink?.stop();
});

const own = (): string => `127.0.0.1:${sink.httpPort}`;

/** The upgrade's answer: "open", or the HTTP status that refused it. */
function upgrade(port: number, path: string, headers: Record<string, string>): Promise<number | "open"> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
    ws.on("open", () => {
      ws.close();
      resolve("open");
    });
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode!);
      res.resume();
    });
    ws.on("error", (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

describe("Host", () => {
  test("a Host the sink does not serve gets 403 forbidden as JSON (DNS rebinding)", async () => {
    const r = await rawRequest(sink.httpPort, "/api/v1/messages", { headers: { host: "evil.example" } });
    expect(r.status).toBe(403);
    expect(r.json.error!.code).toBe("forbidden");
    expect(r.json.error!.message).toMatch(/evil\.example.*--http-host/);
    const withPort = await rawRequest(sink.httpPort, "/api/v1/health", {
      headers: { host: `evil.example:${sink.httpPort}` },
    });
    expect(withPort.status).toBe(403);
  });

  test("loopback names are served on the listening port and through a port forward", async () => {
    for (const host of [
      own(),
      `localhost:${sink.httpPort}`,
      `[::1]:${sink.httpPort}`,
      "localhost:9",
      "127.0.0.1",
    ]) {
      const r = await rawRequest(sink.httpPort, "/api/v1/health", { headers: { host } });
      expect(r.status, host).toBe(200);
    }
  });

  test("the check runs before routing, whatever the path (no /%61pi bypass)", async () => {
    for (const path of ["/%61pi/v1/messages", "/api/v1/%73tream", "/nothing", "/"]) {
      const r = await rawRequest(sink.httpPort, path, { headers: { host: "evil.example" } });
      expect(r.status, path).toBe(403);
    }
    expect(await upgrade(sink.httpPort, "/%61pi/v1/stream", { host: "evil.example" })).toBe(403);
  });
});

describe("Origin", () => {
  test("a foreign Origin gets 403; the sink's own origin and no Origin are answered", async () => {
    for (const origin of [
      "http://evil.example",
      "null",
      `http://localhost:${sink.httpPort + 1}`,
      "file://",
    ]) {
      const r = await rawRequest(sink.httpPort, "/api/v1/messages", { headers: { origin } });
      expect(r.status, origin).toBe(403);
      expect(r.json.error!.code).toBe("forbidden");
    }
    const mine = await rawRequest(sink.httpPort, "/api/v1/messages", {
      headers: { origin: `http://${own()}` },
    });
    expect(mine.status).toBe(200);
    const none = await rawRequest(sink.httpPort, "/api/v1/messages");
    expect(none.status).toBe(200);
    expect(none.headers["access-control-allow-origin"]).toBeUndefined();
  });

  test("a WebSocket upgrade with a foreign Origin is refused before the handshake", async () => {
    const path = "/api/v1/stream?since=00000000000000000000000000";
    expect(await upgrade(sink.httpPort, path, { origin: "http://evil.example" })).toBe(403);
    expect(await upgrade(sink.httpPort, path, { origin: "null" })).toBe(403);
    expect(await upgrade(sink.httpPort, path, {})).toBe("open");
    expect(await upgrade(sink.httpPort, path, { origin: `http://${own()}` })).toBe("open");
  });
});

describe("--http-host and --cors", () => {
  let named: TestSink;
  beforeAll(async () => {
    named = await startTestSink({
      httpHosts: ["ui.example", "proxy.example:8443"],
      corsOrigins: ["https://app.example"],
    });
  });
  afterAll(async () => {
    await named?.stop();
  });

  test("--http-host NAME serves NAME bare and with the listening port; NAME:PORT only that port", async () => {
    const status = async (host: string, origin?: string): Promise<number> =>
      (await rawRequest(named.httpPort, "/api/v1/health", { headers: { host, ...(origin && { origin }) } }))
        .status;
    expect(await status("ui.example")).toBe(200);
    expect(await status(`ui.example:${named.httpPort}`)).toBe(200);
    expect(await status("ui.example:9999")).toBe(403);
    expect(await status("proxy.example:8443")).toBe(200);
    expect(await status("proxy.example")).toBe(403);
    // behind a TLS proxy the page's origin is https://NAME
    expect(await status("ui.example", "https://ui.example")).toBe(200);
    expect(await status("ui.example", "https://evil.example")).toBe(403);
  });

  test("--cors ORIGIN: that origin is allowed and gets CORS headers; others still 403", async () => {
    const r = await rawRequest(named.httpPort, "/api/v1/messages", {
      headers: { origin: "https://app.example" },
    });
    expect(r.status).toBe(200);
    expect(r.headers["access-control-allow-origin"]).toBe("https://app.example");
    const pre = await rawRequest(named.httpPort, "/api/v1/messages", {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "DELETE" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers["access-control-allow-methods"]).toContain("DELETE");
    const other = await rawRequest(named.httpPort, "/api/v1/messages", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "DELETE" },
    });
    expect(other.status).toBe(403);
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    expect(await upgrade(named.httpPort, "/api/v1/stream", { origin: "https://app.example" })).toBe("open");
  });
});

describe("headers and mail content", () => {
  let id: string;
  beforeAll(async () => {
    id = await sendMail(sink.smtpPort, {
      to: "headers@example.test",
      subject: "headers",
      text: "plain <b>text</b>",
      html: '<p>hi</p><img src="cid:logo@shop"><div style="background:url(\'cid:logo@shop\')"></div><img src="https://remote.example/x.png"><meta http-equiv="refresh" content="0;url=https://evil.example/">',
      attachments: [
        { filename: "logo.png", content: Buffer.from("png"), contentType: "image/png", cid: "logo@shop" },
        {
          filename: "a.svg",
          content: "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
          contentType: "image/svg+xml",
        },
      ],
    });
  });

  test("every response carries nosniff and no-referrer; JSON a CSP that loads nothing and may not be framed", async () => {
    for (const path of ["/api/v1/messages", "/api/v1/health", "/api/v1/nothing", `/api/v1/messages/${id}`]) {
      const r = await rawRequest(sink.httpPort, path);
      expect(r.headers["x-content-type-options"], path).toBe("nosniff");
      expect(r.headers["referrer-policy"], path).toBe("no-referrer");
      expect(r.headers["content-security-policy"], path).toBe("default-src 'none'; frame-ancestors 'none'");
    }
    const refused = await rawRequest(sink.httpPort, "/api/v1/health", { headers: { host: "evil.example" } });
    expect(refused.headers["x-content-type-options"]).toBe("nosniff");
  });

  test("/html: sandboxed without scripts, images only from the sink unless ?remote=1, cid: rewritten", async () => {
    const r = await rawRequest(sink.httpPort, `/api/v1/messages/${id}/html`);
    expect(r.status).toBe(200);
    const csp = r.headers["content-security-policy"]!;
    expect(csp).toMatch(/(^|; )sandbox( allow-same-origin)?(;|$)/);
    expect(csp).not.toContain("allow-scripts");
    for (const d of ["script-src 'none'", "object-src 'none'", "frame-ancestors 'self'", "img-src 'self'"])
      expect(csp).toContain(d);
    expect(csp).not.toMatch(/img-src[^;]*https:/);
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
    const att = `/api/v1/messages/${id}/attachments/1`;
    expect(r.text).toContain(`<img src="${att}">`);
    expect(r.text).toContain(`url(&quot;${att}&quot;)`);
    expect(r.text).not.toContain("cid:");
    expect(r.text).not.toContain("http-equiv");

    const remote = await rawRequest(sink.httpPort, `/api/v1/messages/${id}/html?remote=1`);
    expect(remote.headers["content-security-policy"]).toMatch(/img-src 'self' https: http: data:/);
    expect((await rawRequest(sink.httpPort, `/api/v1/messages/${id}/html?remote=yes`)).status).toBe(400);
  });

  test("attachments are downloads under the sandbox CSP; /text is text/plain", async () => {
    const svg = await rawRequest(sink.httpPort, `/api/v1/messages/${id}/attachments/2`);
    expect(svg.status).toBe(200);
    expect(svg.headers["content-disposition"]).toMatch(/^attachment; filename="a\.svg"/);
    expect(svg.headers["content-security-policy"]).toMatch(/^sandbox;/);
    expect(svg.headers["content-security-policy"]).toContain("script-src 'none'");
    expect(svg.headers["x-content-type-options"]).toBe("nosniff");
    const text = await rawRequest(sink.httpPort, `/api/v1/messages/${id}/text`);
    expect(text.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(text.headers["x-content-type-options"]).toBe("nosniff");
  });
});
