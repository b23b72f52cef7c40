// `tun mail open`'s page, opened in a real browser (Debian's chromium driven
// by playwright-core): a hostile message runs no script, submits no form,
// follows no refresh and loads nothing remote, so a local catch server hears
// nothing and the store is unchanged. The same HTML written unsanitised does
// reach the catch server: the control that shows the test can fail.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { SinkClient } from "../../client/index.js";
import { launchBrowser, type TestBrowser } from "../helpers/browser.js";
import { isolatedPath, type IsolatedPath } from "../helpers/isolated-path.js";
import { waitUntil } from "../helpers/poll.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { sendMail, uniqueAddress } from "../client/send-mail.js";
import { runTun } from "./tun-process.js";

let sink: TestSink;
let browser: TestBrowser;
let noOpener: IsolatedPath;
let catcher: http.Server;
let catchUrl: string;
const hits: string[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  sink = await startTestSink();
  browser = await launchBrowser();
  noOpener = isolatedPath();
  catcher = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.writeHead(200, { "content-type": "text/plain", "access-control-allow-origin": "*" }).end("caught");
  });
  await new Promise<void>((r) => catcher.listen(0, "127.0.0.1", r));
  catchUrl = `http://127.0.0.1:${(catcher.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => catcher?.close(r));
  await sink?.stop();
  noOpener?.remove();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every way an HTML mail tries to run code or phone home; `api` is where its script would delete mail. */
function hostileHtml(signal: string, api: string): string {
  return `<html><head>
<meta http-equiv="refresh" content="0;url=${signal}/refresh">
<link rel="stylesheet" href="${signal}/stylesheet">
<base href="${signal}/base/">
<script>fetch("${signal}/script"); fetch("${api}/api/v1/messages", { method: "DELETE" });</script>
<style>@import url("${signal}/import"); .bg { background: url("${signal}/background"); }</style>
</head><body onload="fetch('${signal}/onload')">
<p class="bg">Reset your password</p>
<img src="x" onerror="fetch('${signal}/onerror')">
<img src="${signal}/remote-image">
<img src="cid:chart@evil">
<svg onload="fetch('${signal}/svg-onload')"><script>fetch("${signal}/svg-script")</script></svg>
<iframe src="${signal}/iframe"></iframe>
<object data="${signal}/object"></object><embed src="${signal}/embed">
<form id="f" action="${signal}/form" method="post"><input name="a" value="b" autofocus onfocus="fetch('${signal}/onfocus')"></form>
<script>document.getElementById("f").submit();</script>
<a href="javascript:fetch('${signal}/javascript-link')">open</a>
</body></html>`;
}

const SVG_WITH_SCRIPT = `<svg xmlns="http://www.w3.org/2000/svg" onload="fetch('SIGNAL/svg-attachment')"><script>fetch("SIGNAL/svg-attachment-script")</script><rect width="10" height="10"/></svg>`;

async function openInBrowser(file: string): Promise<void> {
  const page = await browser.browser.newPage();
  try {
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    // Every request the page starts has finished (or failed) by then.
    await page.waitForLoadState("networkidle");
  } finally {
    await page.close();
  }
}

test("the page of a hostile message runs no script and cannot signal a catch server", async () => {
  const to = uniqueAddress("open-hostile");
  const id = await sendMail(sink.smtpPort, {
    to,
    subject: "Reset",
    html: hostileHtml(catchUrl, sink.url),
    attachments: [
      {
        filename: "chart.svg",
        content: SVG_WITH_SCRIPT.replaceAll("SIGNAL", catchUrl),
        contentType: "image/svg+xml",
        cid: "chart@evil",
      },
    ],
  });
  const before = (await new SinkClient(sink.url).list()).total;

  const r = await runTun(["mail", "open", id, "--sink", sink.url], noOpener.env);
  expect(r.code).toBe(0);
  const file = r.stdout.trim();
  dirs.push(dirname(file));
  await openInBrowser(file);
  expect(hits).toEqual([]);
  expect((await new SinkClient(sink.url).list()).total).toBe(before);

  // The control: the same mail unsanitised does reach the catch server.
  const control = join(mkdtempSync(join(tmpdir(), "tun-open-control-")), "control.html");
  dirs.push(dirname(control));
  writeFileSync(control, hostileHtml(catchUrl, catchUrl));
  await openInBrowser(control);
  await waitUntil("the control's script to signal", () => hits.includes("GET /script"));
});

test("remote images load only with --remote-images", async () => {
  const id = await sendMail(sink.smtpPort, {
    to: uniqueAddress("open-remote"),
    subject: "Newsletter",
    html: `<p>News</p><img src="${catchUrl}/pixel.png"><script>fetch("${catchUrl}/script")</script>`,
  });
  hits.length = 0;
  for (const flags of [[], ["--remote-images"]]) {
    const r = await runTun(["mail", "open", id, ...flags, "--sink", sink.url], noOpener.env);
    expect(r.code).toBe(0);
    dirs.push(dirname(r.stdout.trim()));
    await openInBrowser(r.stdout.trim());
  }
  expect(hits).toEqual(["GET /pixel.png"]);
});
