// `tun up --deliver` end to end: real sshd, Caddy and sink on loopback, the
// SSH link through a relay the test can reset, and a real local app. Mail to
// the tunnel's subdomain reaches the app in SendGrid's shape, in order, at
// least once across a tunnel reconnect and an app outage, and not again
// after `tun up` restarts.
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { sendMail } from "../client/send-mail.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { DOMAIN, runTun, startHarness, waitUntil, type Harness, type RunningTun } from "../tunnel/harness.js";
import { parseMultipart } from "./multipart.js";
import { deliveredIds, deliveries, startWebhookApp, type WebhookApp } from "./webhook-app.js";

const NAME = "inbound";
const PATH = "/webhooks/inbound";
/** The bar: the app has the message within a second of the sink's 250. */
const DELIVERY_LATENCY_MAX_MS = 1_000;

let h: Harness;
let relay: TestRelay;
let app: WebhookApp;
let knownHosts: string;

beforeAll(async () => {
  h = await startHarness();
  relay = await startRelay(h.sshd.port);
  app = await startWebhookApp();
  knownHosts = join(h.dir, "known_hosts_relay");
  writeFileSync(knownHosts, h.sshd.knownHostsLine(relay.port) + "\n");
});
afterAll(async () => {
  await app?.close();
  await relay?.stop();
  await h?.stop();
});

function up(): RunningTun {
  return runTun(
    [
      "up",
      NAME,
      String(app.port),
      "--ssh-port",
      String(relay.port),
      "--known-hosts",
      knownHosts,
      "--no-port25",
      "--deliver",
      PATH,
      "--format",
      "sendgrid",
    ],
    h.env({ XDG_STATE_HOME: "", TUN_DELIVER_RETRY_MIN_MS: "50", TUN_DELIVER_RETRY_MAX_MS: "300" }),
  );
}

test("delivered within a second, in order and at least once across a reconnect, not again after a restart", async () => {
  const to = (n: number): string => `reply+${n}@${NAME}.${DOMAIN}`;
  let tun = up();
  try {
    await tun.waitFor(
      new RegExp(`\\[deliver\\] delivering to http://localhost:${app.port}${PATH} as sendgrid`),
    );
    const sent = [await sendMail(h.sink.smtpPort, { to: to(42), subject: "Re: ticket 42", text: "fixed" })];
    const acceptedAt = Date.now();
    await waitUntil("the first delivery", () => deliveries(app).length === 1, 10_000);
    const latency = Date.now() - acceptedAt;
    await tun.waitFor(new RegExp(`\\[deliver\\] ${sent[0]} → POST ${PATH} 200 in \\d+ ms`));
    const first = deliveries(app)[0]!;
    const form = await parseMultipart(first.headers, first.body);
    expect(form.fields.subject).toBe("Re: ticket 42");
    expect(JSON.parse(form.fields.envelope!)).toMatchObject({ to: [to(42)] });
    expect(latency).toBeLessThan(DELIVERY_LATENCY_MAX_MS);

    // The link drops and the app is down; mail keeps arriving at the VM's sink meanwhile.
    await app.close();
    relay.closeAll();
    await tun.waitFor(/reconnecting/, 10_000);
    sent.push(await sendMail(h.sink.smtpPort, { to: to(43), subject: "two", text: "2" }));
    sent.push(await sendMail(h.sink.smtpPort, { to: to(44), subject: "three", text: "3" }));
    await tun.waitFor(/reconnected/, 20_000);
    await app.reopen();
    await waitUntil("all three delivered", () => new Set(deliveredIds(app)).size === 3, 20_000);
    expect([...new Set(deliveredIds(app))]).toEqual(sent);

    tun.child.kill("SIGINT");
    expect((await tun.exited).code).toBe(130);
    const saved = readdirSync(join(h.dir, ".local", "state", "tun", "deliver"));
    expect(saved).toHaveLength(1);

    sent.push(await sendMail(h.sink.smtpPort, { to: to(45), subject: "four", text: "4" }));
    const before = deliveries(app).length;
    tun = up();
    await tun.waitFor(new RegExp(`resuming after ${sent[2]}`));
    await waitUntil("the fourth delivery", () => deliveries(app).length > before, 10_000);
    expect(deliveredIds(app).slice(before)).toEqual([sent[3]]);
    console.log(`[deliver] first delivery ${latency} ms after the sink's 250`);
  } finally {
    await tun.stop();
  }
});
