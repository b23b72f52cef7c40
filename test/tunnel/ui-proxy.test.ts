// `tun up`'s mail UI: the VM sink's HTTP API and WebSocket stream on a laptop
// port, over the tunnel's SSH connection, with the Host/Origin rules holding
// through the proxy, and working again after the SSH link was reset.
// The UI page itself in a real browser through the proxy: ui-browser.test.ts.
import { writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { DOMAIN, runTun, startHarness, waitUntil, type Harness, type RunningTun } from "./harness.js";

const NAME = "uiproxy";
let h: Harness;
let relay: TestRelay;
let tun: RunningTun;
let port = 0;

beforeAll(async () => {
  h = await startHarness();
  relay = await startRelay(h.sshd.port);
  const knownHosts = join(h.dir, "known_hosts_relay");
  writeFileSync(knownHosts, h.sshd.knownHostsLine(relay.port) + "\n");
  tun = runTun(
    ["up", NAME, String(h.app.port), "--ssh-port", String(relay.port), "--known-hosts", knownHosts],
    h.env(),
  );
  await tun.waitFor(/mail UI: http:\/\/127\.0\.0\.1:\d+\//);
  const m = /mail UI: http:\/\/127\.0\.0\.1:(\d+)\/\?search=to:@(\S+)/.exec(tun.stderr())!;
  port = Number(m[1]);
  expect(m[2]).toBe(`${NAME}.${DOMAIN}`);
}, 60_000);
afterAll(async () => {
  await tun?.stop();
  await Promise.allSettled([relay?.stop(), h?.stop()]);
});

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

function firstFrame(headers: Record<string, string>): Promise<{ type: string } | { status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/stream?to=@${NAME}.${DOMAIN}`, { headers });
    ws.once("message", (d) => {
      resolve(JSON.parse(d.toString()) as { type: string });
      ws.close();
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once("error", reject);
  });
}

describe("tun up's mail UI proxy", () => {
  it("serves the VM sink's API for the tunnel's mail", async () => {
    await h.sendMail(`signup@${NAME}.${DOMAIN}`, "through the UI proxy");
    const res = await waitUntil("the message via the proxy", async () => {
      const r = await get(`/api/v1/messages?to=@${NAME}.${DOMAIN}`);
      return r.status === 200 && r.body.includes("through the UI proxy") ? r : null;
    });
    expect(JSON.parse(res.body).messages[0].subject).toBe("through the UI proxy");
  });

  it("passes a same-origin WebSocket to the sink's stream", async () => {
    const frame = await firstFrame({ origin: `http://127.0.0.1:${port}` });
    expect(frame).toMatchObject({ type: "hello" });
  });

  it("refuses a foreign Origin and a foreign Host (DNS rebinding) itself, for HTTP and WebSocket", async () => {
    const foreign = await get("/api/v1/messages", { origin: "http://evil.example" });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body).error.code).toBe("forbidden");
    const rebound = await get("/api/v1/messages", { host: `evil.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(await firstFrame({ origin: "http://evil.example" })).toEqual({ status: 403 });
  });

  it("works again after the SSH link was reset and the tunnel reconnected", async () => {
    relay.closeAll();
    await tun.waitFor(/reconnected; /);
    await h.sendMail(`again@${NAME}.${DOMAIN}`, "after the reconnect");
    await waitUntil("the new message via the proxy", async () => {
      const r = await get(`/api/v1/messages?to=@${NAME}.${DOMAIN}`).catch(() => null);
      return r?.status === 200 && r.body.includes("after the reconnect");
    });
    expect(await firstFrame({ origin: `http://127.0.0.1:${port}` })).toMatchObject({ type: "hello" });
  });
});
