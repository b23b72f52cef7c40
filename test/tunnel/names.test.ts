// Names come back: a tunnel whose client vanished (network stalled, then the
// process killed, as with a closed laptop) frees its name once its heartbeat is
// stale, even while something requests its URL every second, which keeps sshd
// from ever dropping the dead session. Test-tuned heartbeat values
// (TUN_HEARTBEAT_MS, TUN_HEARTBEAT_STALE_MS, `tun janitor --stale`) keep the
// run short; the real defaults are checked by arithmetic.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probePort } from "../../cli/tunnel/janitor.js";
import {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_HEARTBEAT_STALE_MS,
  ROUTE_CHECKS_PER_HEARTBEAT,
} from "../../cli/tunnel/tunables.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import {
  DOMAIN,
  runTun,
  runTunToEnd,
  startHarness,
  waitUntil,
  type Harness,
  type RunningTun,
} from "./harness.js";

const REPO = join(import.meta.dirname, "..", "..");
const READY = /streaming mail for @/;
/** How soon a name must come back after its client is gone (issue 15), ms. */
const NAME_BACK_MS = 90_000;
const STALE_MS = 2_000;
const FAST_BEAT = { TUN_HEARTBEAT_MS: "300", TUN_HEARTBEAT_STALE_MS: String(STALE_MS) };
/** Slack for process start-up, SSH login and Caddy on a loaded 2-core machine, ms. */
const SLACK_MS = 15_000;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const portAccepts = async (port: number): Promise<boolean> => (await probePort(port)) === "live";

/** A request to the public URL every second, as a busy internet would send. */
function requestLoop(host: string): { stop(): void; count(): number } {
  let n = 0;
  const timer = setInterval(() => {
    n++;
    void h.caddy.get(host).catch(() => undefined);
  }, 1_000);
  return { stop: () => clearInterval(timer), count: () => n };
}

/**
 * Starts `name` as alice through a relay, then makes her vanish: the relay
 * stalls (no FIN reaches sshd) and the process is SIGKILLed. Returns the VM
 * port her route still points at.
 */
async function vanishedClient(name: string): Promise<{ relay: TestRelay; alice: RunningTun; port: number }> {
  const relay = await startRelay(h.sshd.port);
  const knownHosts = join(h.dir, `known_hosts_${name}`);
  writeFileSync(knownHosts, h.sshd.knownHostsLine(relay.port) + "\n");
  const alice = runTun(
    ["up", name, String(h.app.port), "--ssh-port", String(relay.port), "--known-hosts", knownHosts],
    h.env({ TUN_HOLDER: "alice@laptop", ...FAST_BEAT }),
  );
  await alice.waitFor(READY);
  const route = (await h.caddy.routes()).find((r) => r["@id"] === `tun-${name}`)!;
  const vars = route.handle!.find((x) => x.handler === "vars")!;
  expect(typeof vars.tun_heartbeat).toBe("string");
  relay.stall();
  alice.child.kill("SIGKILL");
  await alice.exited;
  return { relay, alice, port: Number(vars.tun_upstream) };
}

describe("names come back", () => {
  it("the default heartbeat, staleness and janitor period free a name within 90 s", () => {
    const timer = readFileSync(join(REPO, "systemd/tun-janitor.timer"), "utf8");
    const period = /^OnCalendar=\*:\*:00\/(\d+)$/m.exec(timer);
    expect(period, "tun-janitor.timer runs every N seconds").not.toBeNull();
    const periodMs = Number(period![1]) * 1000;
    const accuracyMs = Number(/^AccuracySec=(\d+)s$/m.exec(timer)?.[1]) * 1000;
    /** Caddy's Date header, by which heartbeats are written and judged, has 1 s resolution. */
    const clockResolutionMs = 1_000;
    /** A janitor run: node start-up plus a few admin calls. */
    const janitorRunMs = 5_000;
    // The last heartbeat is at most the moment the client died; it is stale STALE later.
    const worst = DEFAULT_HEARTBEAT_STALE_MS + clockResolutionMs + periodMs + accuracyMs + janitorRunMs;
    expect(worst).toBeLessThanOrEqual(NAME_BACK_MS);
    // A live tunnel may miss a beat (a slow Caddy reload, an admin hiccup): it is retried at the next
    // route check, a third of an interval later, long before the holder goes stale.
    expect(DEFAULT_HEARTBEAT_MS * (1 + 1 / ROUTE_CHECKS_PER_HEARTBEAT)).toBeLessThan(
      DEFAULT_HEARTBEAT_STALE_MS,
    );
  });

  it("the janitor removes a vanished client's route once its heartbeat is stale, while its URL is requested every second", async () => {
    const name = "busyjan";
    const loop = requestLoop(`${name}.${DOMAIN}`);
    const { relay, alice, port } = await vanishedClient(name);
    const goneAt = Date.now();
    try {
      await waitUntil(
        "the janitor to remove the stale route",
        async () => {
          const r = await runTunToEnd(["janitor", "--stale", `${STALE_MS}ms`], h.env());
          expect([r.code, r.stderr]).toEqual([0, ""]);
          return !(await h.caddy.routeIds()).includes(`tun-${name}`);
        },
        STALE_MS + SLACK_MS,
      );
      expect(Date.now() - goneAt).toBeLessThan(STALE_MS + SLACK_MS);
      expect(loop.count()).toBeGreaterThan(0);
      // sshd never noticed: the dead client's forward is still bound. A port probe alone would have kept the route.
      expect(await portAccepts(port)).toBe(true);
    } finally {
      loop.stop();
      await alice.stop();
      await relay.stop();
    }
  });

  it("another user takes over a name whose holder's heartbeat is stale, while its URL is requested every second", async () => {
    const name = "busytake";
    const loop = requestLoop(`${name}.${DOMAIN}`);
    const { relay, alice, port } = await vanishedClient(name);
    const goneAt = Date.now();
    let bob: RunningTun | null = null;
    try {
      const refusals: string[] = [];
      await waitUntil(
        "bob to get the name",
        async () => {
          bob = runTun(["up", name, String(h.app.port)], h.env({ TUN_HOLDER: "bob@desk", ...FAST_BEAT }));
          await bob.waitFor(/streaming mail for @|tun: /);
          if (READY.test(bob.stderr())) return true;
          refusals.push(bob.stderr());
          await bob.exited;
          return false;
        },
        STALE_MS + SLACK_MS,
      );
      expect(Date.now() - goneAt).toBeLessThan(STALE_MS + SLACK_MS);
      // Before the heartbeat went stale the name was refused with when it frees up.
      for (const r of refusals) {
        expect(r).toMatch(
          /the name "busytake" is in use by alice@laptop .*heartbeat \d+ s ago; free once it is \d+ s old/,
        );
      }
      expect(bob!.stderr()).toMatch(
        /replaced a dead route for busytake\.tun\.test left by alice@laptop \(since .*; its last heartbeat was \d+ s ago\)/,
      );
      expect(await portAccepts(port)).toBe(true); // sshd still holds alice's dead forward
      expect((await h.caddy.get(`${name}.${DOMAIN}`)).body).toContain("hello from the local app");
      bob!.child.kill("SIGINT");
      expect((await bob!.exited).code).toBe(130);
      expect(await h.caddy.routeIds()).not.toContain(`tun-${name}`);
    } finally {
      loop.stop();
      await (bob as RunningTun | null)?.stop();
      await alice.stop();
      await relay.stop();
    }
  });

  it("a live tunnel keeps its heartbeat fresh and its name", async () => {
    const tun = runTun(
      ["up", "beating", String(h.app.port)],
      h.env({ TUN_HOLDER: "carol@desk", ...FAST_BEAT }),
    );
    try {
      await tun.waitFor(READY);
      const beat = async (): Promise<string> => {
        const route = (await h.caddy.routes()).find((r) => r["@id"] === "tun-beating");
        return String(route?.handle?.find((x) => x.handler === "vars")?.tun_heartbeat);
      };
      const first = await beat();
      await waitUntil("a newer heartbeat", async () => (await beat()) > first, 5_000);
      const r = await runTunToEnd(["janitor", "--stale", `${STALE_MS}ms`], h.env());
      expect(r.stdout).toMatch(/0 removed/);
      const other = await runTunToEnd(
        ["up", "beating", String(h.app.port)],
        h.env({ TUN_HOLDER: "dan@desk" }),
      );
      expect(other.code).toBe(1);
      expect(other.stderr).toMatch(/the name "beating" is in use by carol@desk/);
      tun.child.kill("SIGINT");
      expect((await tun.exited).code).toBe(130);
    } finally {
      await tun.stop();
    }
  });
});
