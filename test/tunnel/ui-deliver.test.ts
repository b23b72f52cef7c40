// The web UI's "Deliver to app" through `tun up --deliver`'s UI proxy (real
// sshd, Caddy and sink, `tun` as a child process, a node:http app): the proxy
// names the target, delivers a stored message again from the laptop on POST,
// refuses a foreign page, and the message view's button shows the app's answer.
// A plain sink answers /api/v1/deliver 404, and its message view has no button.
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureWebBuilt, openUi } from "../web/harness.js";
import { DOMAIN, runTun, startHarness, waitUntil, type Harness, type RunningTun } from "./harness.js";

const NAME = "uideliver";
const HOOK = "/webhooks/inbound";
/** What the app answers each delivery with: not 200, so the UI shows the app's own status. */
const APP_STATUS = 202;

let h: Harness;
let app: Server;
let appPort = 0;
const received: { id: string; path: string }[] = [];
let tun: RunningTun;
let port = 0;

beforeAll(async () => {
  ensureWebBuilt();
  h = await startHarness();
  app = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received.push({ id: String(req.headers["x-tun-message-id"]), path: req.url ?? "" });
      res.writeHead(APP_STATUS, { "content-type": "text/plain" });
      res.end("got it\nsecond line");
    });
  });
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
  appPort = (app.address() as AddressInfo).port;
  tun = runTun(["up", NAME, String(appPort), "--deliver", HOOK], h.env());
  await tun.waitFor(/mail UI: http:\/\/127\.0\.0\.1:\d+\//);
  port = Number(/mail UI: http:\/\/127\.0\.0\.1:(\d+)\//.exec(tun.stderr())![1]);
  // Delivery starts with the mail stream: mail sent before that is not --deliver's to send.
  await tun.waitFor(new RegExp(`\\[deliver\\] delivering to http://localhost:${appPort}${HOOK}`));
}, 60_000);
afterAll(async () => {
  await tun?.stop();
  await new Promise((resolve) => app?.close(resolve));
  await h?.stop();
});

function call(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  to = port,
): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: to, method, path, headers }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Sends a mail to the tunnel and waits for --deliver's own delivery of it; its id. */
async function captured(subject: string): Promise<string> {
  const before = received.length;
  await h.sendMail(`reply+1@${NAME}.${DOMAIN}`, subject);
  await waitUntil("the streamed delivery", () => received.length > before);
  return received[before]!.id;
}

describe("Deliver to app through tun up's UI proxy", () => {
  it("names the tunnel's target; a plain sink answers 404 not_found", async () => {
    const res = await call("GET", "/api/v1/deliver");
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ target: `http://localhost:${appPort}${HOOK}`, format: "raw" });
    const plain = await call("GET", "/api/v1/deliver", {}, h.sink.httpPort);
    expect(plain.status).toBe(404);
    expect(JSON.parse(plain.body).error.code).toBe("not_found");
  });

  it("POST delivers the stored message again from the laptop; a foreign page gets 403 and the app nothing", async () => {
    const id = await captured("deliver me again");
    const count = received.length;
    const res = await call("POST", `/api/v1/messages/${id}/deliver`, { origin: `http://127.0.0.1:${port}` });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { status: number; ms: number; error: null; head: string };
    expect(body).toMatchObject({ status: APP_STATUS, error: null, head: "got it\nsecond line" });
    expect(body.ms).toBeGreaterThanOrEqual(0);
    expect(received.slice(count)).toEqual([{ id, path: HOOK }]);

    const foreign = await call("POST", `/api/v1/messages/${id}/deliver`, { origin: "http://evil.example" });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body).error.code).toBe("forbidden");
    // Then one allowed delivery (no Origin, as curl sends): exactly one more arrives.
    expect((await call("POST", `/api/v1/messages/${id}/deliver`)).status).toBe(200);
    expect(received.slice(count)).toEqual([
      { id, path: HOOK },
      { id, path: HOOK },
    ]);
  });

  it("answers an unknown id 404 and a GET on the action 405, delivering nothing", async () => {
    const count = received.length;
    const missing = await call("POST", "/api/v1/messages/01JD0000000000000000000000/deliver");
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).error.code).toBe("not_found");
    const wrong = await call("GET", "/api/v1/messages/01JD0000000000000000000000/deliver");
    expect(wrong.status).toBe(405);
    expect(received.length).toBe(count);
  });

  it("the message view's button delivers and shows the app's status; a plain sink shows no button", async () => {
    const id = await captured("deliver from the browser");
    const count = received.length;
    const ui = await openUi(`http://127.0.0.1:${port}/messages/${id}`);
    try {
      const button = ui.page.getByRole("button", { name: "Deliver to app" });
      await button.focus();
      await ui.page.keyboard.press("Enter");
      await ui.page
        .locator(".deliver-result")
        .filter({ hasText: new RegExp(`App answered ${APP_STATUS} in \\d+ ms`) })
        .waitFor();
      expect(received.slice(count)).toEqual([{ id, path: HOOK }]);

      // The view asks once per page load; wait for the plain sink's answer before looking.
      const asked = ui.page.waitForResponse((r) => r.url().endsWith("/api/v1/deliver"));
      await ui.page.goto(`http://127.0.0.1:${h.sink.httpPort}/messages/${id}`);
      expect((await asked).status()).toBe(404);
      await ui.page.getByRole("heading", { name: "deliver from the browser" }).waitFor();
      expect(await ui.page.getByRole("button", { name: "Deliver to app" }).count()).toBe(0);
      expect(ui.pageErrors).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});
