// Several tunnels from the config file in one `tun up`: one SSH connection,
// one console with each mail tagged by its tunnel, one outage notice for all,
// and everything released together on every signal.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import {
  DOMAIN,
  runTun,
  runTunToEnd,
  startApp,
  startHarness,
  type Harness,
  type LocalApp,
  type RunningTun,
} from "./harness.js";

let h: Harness;
let web: LocalApp;
let docs: LocalApp;
const count = (text: string, needle: string | RegExp): number =>
  (text.match(new RegExp(needle, "g")) ?? []).length;
const body = async (name: string): Promise<string> =>
  (await h.caddy.get(`${name}.${DOMAIN}`).catch(() => ({ body: "" }))).body;
/** sshd logins so far (LogLevel VERBOSE logs one line per authenticated connection). */
const logins = (): number => count(h.sshd.log(), /Accepted publickey for/);

beforeAll(async () => {
  h = await startHarness();
  [web, docs] = await Promise.all([startApp("web app"), startApp("docs app")]);
  h.writeConfig({
    tunnels: {
      api: { port: h.app.port, deliver: "/hooks/inbound" },
      web: { port: web.port },
      docs: { port: docs.port },
    },
  });
});
afterAll(async () => {
  await Promise.allSettled([web?.close(), docs?.close()]);
  await h?.stop();
});

/** Waits until every named tunnel streams mail. */
async function ready(tun: RunningTun, names: string[]): Promise<void> {
  for (const n of names) await tun.waitFor(new RegExp(`streaming mail for @${n}\\.tun\\.test`));
}

describe("several tunnels from the config file", () => {
  let relay: TestRelay;
  let tun: RunningTun;

  beforeAll(async () => {
    relay = await startRelay(h.sshd.port);
    const knownHosts = join(h.dir, "known_hosts_relay");
    writeFileSync(knownHosts, h.sshd.knownHostsLine(relay.port) + "\n");
    tun = runTun(
      ["up", "api", "web", "--ssh-port", String(relay.port), "--known-hosts", knownHosts],
      h.env(),
    );
    await ready(tun, ["api", "web"]);
  });
  afterAll(async () => {
    await tun?.stop();
    await relay?.stop();
  });

  it("`tun up api web` serves both over one SSH connection and tags each mail with its tunnel", async () => {
    expect(relay.connections()).toBe(1);
    expect(await body("api")).toBe("hello from the local app /");
    expect(await body("web")).toBe("web app /");
    expect(await h.caddy.routeIds()).not.toContain("tun-docs");

    await h.sendMail(`a@api.${DOMAIN}`, "For the api");
    await h.sendMail(`w@web.${DOMAIN}`, "For the web");
    await tun.waitFor(/Subject: For the web/);
    await tun.waitFor(/Subject: For the api/);
    expect(tun.stdout()).toMatch(/^\[api\] .*Subject: For the api$/m);
    expect(tun.stdout()).toMatch(/^\[web\] .*Subject: For the web$/m);
    expect(tun.stdout()).not.toMatch(/^\[api\] .*For the web/m);
  });

  it("a stalled network gets one notice and one recovery line, and both tunnels and their mail come back", async () => {
    relay.stall();
    await tun.waitFor(/lost \(Keepalive timeout\); reconnecting/, 10_000);
    await h.sendMail(`d@web.${DOMAIN}`, "During the outage");
    relay.resume();
    await tun.waitFor(
      /reconnected; https:\/\/api\.tun\.test is back .*https:\/\/web\.tun\.test is back/,
      15_000,
    );
    await tun.waitFor(/Subject: During the outage/, 15_000);
    expect(await body("api")).toBe("hello from the local app /");
    expect(await body("web")).toBe("web app /");
    expect(count(tun.stderr(), "reconnecting…")).toBe(1);
    expect(count(tun.stderr(), "reconnected")).toBe(1);
    expect(tun.stderr()).not.toContain("connection to the sink lost");
    expect(count(tun.stdout(), "Subject: During the outage")).toBe(1);
  });

  it("Ctrl-C removes both routes and exits 130", async () => {
    tun.child.kill("SIGINT");
    expect((await tun.exited).code).toBe(130);
    expect(await h.caddy.routeIds()).toEqual([]);
    expect(tun.stderr()).toContain("removed the route for api.tun.test");
    expect(tun.stderr()).toContain("removed the route for web.tun.test");
  });
});

describe("`tun up` with no arguments", () => {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    it(`starts all three on one SSH login, and ${signal} releases them all (exit ${code})`, async () => {
      const before = logins();
      const tun = runTun(["up"], h.env());
      try {
        await ready(tun, ["api", "web", "docs"]);
        expect(logins() - before).toBe(1);
        expect((await h.caddy.routeIds()).sort()).toEqual(["tun-api", "tun-docs", "tun-web"]);
        expect(await body("docs")).toBe("docs app /");
        tun.child.kill(signal);
        expect((await tun.exited).code).toBe(code);
        expect(await h.caddy.routeIds()).toEqual([]);
        expect(await body("docs")).not.toContain("docs app");
      } finally {
        await tun.stop();
      }
    });
  }
});

describe("choosing tunnels", () => {
  it("refuses a name the config does not have, naming the ones it has (exit 2)", async () => {
    const r = await runTunToEnd(["up", "api", "nope"], h.env());
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `tun: no tunnel named "nope" in ${h.configPath} (it has api, web, docs); give a port too (tun up nope 3000) or add it under "tunnels"`,
    );
  });

  it("refuses a bad tunnels entry in the config, naming the key (exit 2)", async () => {
    const file = join(h.dir, "bad-tunnels.json");
    writeFileSync(file, JSON.stringify({ tunnels: { api: { port: "lots" } } }));
    const r = await runTunToEnd(["up"], h.env({ TUN_CONFIG: file }));
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `tun: config "tunnels.api.port" in ${file} must be a whole number from 1 to 65535`,
    );
    writeFileSync(file, JSON.stringify({ tunnels: { api: { port: 3000, deliver: "ftp://x" } } }));
    const r2 = await runTunToEnd(["up"], h.env({ TUN_CONFIG: file }));
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`config "tunnels.api.deliver" in ${file} must be a path on the app`);
  });
});
