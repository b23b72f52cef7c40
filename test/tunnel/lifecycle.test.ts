// How `tun up` starts, refuses and ends: signals, host keys, name ownership,
// chain failures, and the janitor for clients that could not clean up.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKey, stopChild } from "../helpers/sshd.js";
import {
  DOMAIN,
  runTun,
  runTunToEnd,
  startHarness,
  waitUntil,
  type Harness,
  type RunningTun,
} from "./harness.js";

/** The janitor's clock is Caddy's HTTP Date header: whole seconds. */
const CADDY_CLOCK_RESOLUTION_MS = 1_000;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const READY = /streaming mail for @/;
const reachesApp = async (name: string): Promise<boolean> =>
  (await h.caddy.get(`${name}.${DOMAIN}`)).body.startsWith("hello from the local app");

function fingerprintOf(pubLine: string): string {
  const file = join(h.dir, "fp.pub");
  writeFileSync(file, pubLine + "\n");
  return execFileSync("ssh-keygen", ["-lf", file]).toString().split(" ")[1]!;
}

describe("signals", () => {
  for (const [signal, code] of [
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    it(`${signal} removes the route and exits ${code}`, async () => {
      const name = `sig${signal.slice(3).toLowerCase()}`;
      const tun = runTun(["up", name, String(h.app.port)], h.env());
      try {
        await tun.waitFor(READY);
        expect(await reachesApp(name)).toBe(true);
        tun.child.kill(signal);
        expect((await tun.exited).code).toBe(code);
        expect(await h.caddy.routeIds()).not.toContain(`tun-${name}`);
        expect(tun.stderr()).toContain(`removed the route for ${name}.${DOMAIN}`);
      } finally {
        await tun.stop();
      }
    });
  }
});

describe("host keys", () => {
  it("refuses an unknown host key with its SHA256 fingerprint and the ssh-keyscan command", async () => {
    const empty = join(h.dir, "known_hosts_empty");
    writeFileSync(empty, "");
    const r = await runTunToEnd(["up", "hk1", String(h.app.port), "--known-hosts", empty], h.env());
    expect(r.code).not.toBe(0);
    const fp = fingerprintOf(h.sshd.hostKey.publicLine);
    expect(r.stderr).toContain(fp);
    expect(r.stderr).toContain(`ssh-keyscan -p ${h.sshd.port} 127.0.0.1 >> ${empty}`);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(await h.caddy.routeIds()).not.toContain("tun-hk1");
  });

  it("refuses a changed host key", async () => {
    const other = generateKey(h.dir, "other_host_key");
    const file = join(h.dir, "known_hosts_changed");
    const [type, key] = other.publicLine.split(" ");
    writeFileSync(file, `# comment\n[127.0.0.1]:${h.sshd.port} ${type} ${key}\n`);
    const r = await runTunToEnd(["up", "hk2", String(h.app.port), "--known-hosts", file], h.env());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/host key of \[127\.0\.0\.1\]:\d+ has CHANGED/);
    expect(r.stderr).toContain(fingerprintOf(h.sshd.hostKey.publicLine));
    expect(r.stderr).toContain("line 2");
  });

  it("accepts a hashed known_hosts entry (and the shorthand tun <name> <port>)", async () => {
    const file = join(h.dir, "known_hosts_hashed");
    writeFileSync(file, h.sshd.knownHostsLine() + "\n");
    execFileSync("ssh-keygen", ["-q", "-H", "-f", file]);
    const tun = runTun(["hk3", String(h.app.port), "--known-hosts", file], h.env());
    try {
      await tun.waitFor(READY);
      expect(await reachesApp("hk3")).toBe(true);
      tun.child.kill("SIGINT");
      expect((await tun.exited).code).toBe(130);
    } finally {
      await tun.stop();
    }
  });

  it("says in one line that the VM did not accept the key", async () => {
    const stranger = generateKey(h.dir, "not_authorized");
    const r = await runTunToEnd(
      ["up", "auth", String(h.app.port), "--identity-file", stranger.privatePath],
      h.env(),
    );
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(
      /^tun: SSH login as \w+@127\.0\.0\.1:\d+ failed: the VM accepted none of the offered keys/,
    );
  });

  it("logs in through the SSH agent, also when the configured key file is encrypted", async () => {
    const sock = join(h.dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    try {
      await waitUntil("ssh-agent's socket", () => existsSync(sock));
      execFileSync("ssh-add", ["-q", h.sshd.clientKey.privatePath], {
        env: { ...process.env, SSH_AUTH_SOCK: sock },
      });
      // Agent only (no identityFile in the config), then an encrypted key file the agent holds unlocked.
      const agentOnly = join(h.dir, "config-agent-only.json");
      const { identityFile: _unused, ...rest } = JSON.parse(readFileSync(h.configPath, "utf8")) as Record<
        string,
        unknown
      >;
      writeFileSync(agentOnly, JSON.stringify(rest));
      for (const extra of [[], ["--identity-file", h.sshd.encryptedClientKey.privatePath]]) {
        const tun = runTun(
          ["up", "agent", String(h.app.port), ...extra],
          h.env({ SSH_AUTH_SOCK: sock, TUN_CONFIG: agentOnly }),
        );
        try {
          await tun.waitFor(READY);
          expect(await reachesApp("agent")).toBe(true);
          tun.child.kill("SIGINT");
          expect((await tun.exited).code).toBe(130);
        } finally {
          await tun.stop();
        }
      }
    } finally {
      await stopChild(agent);
    }
  });

  it("fails with one clear line for an encrypted key without a terminal", async () => {
    const r = await runTunToEnd(
      ["up", "enc", String(h.app.port), "--identity-file", h.sshd.encryptedClientKey.privatePath],
      h.env(),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /is encrypted and there is no terminal to ask for its passphrase; load it into ssh-agent/,
    );
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});

describe("name ownership", () => {
  it("refuses a name held by another live tunnel, and lets the same user take it over", async () => {
    const alice = runTun(["up", "shared", String(h.app.port)], h.env({ TUN_HOLDER: "alice@laptop" }));
    let again: RunningTun | null = null;
    try {
      await alice.waitFor(READY);

      const bob = await runTunToEnd(["up", "shared", String(h.app.port)], h.env({ TUN_HOLDER: "bob@desk" }));
      expect(bob.code).toBe(1);
      expect(bob.stderr).toMatch(
        /the name "shared" is in use by alice@laptop since \d{4}-\d\d-\d\dT[\d:.]+Z/,
      );
      expect(await reachesApp("shared")).toBe(true);

      // Alice again, e.g. from a new terminal after her laptop woke up: her name is hers.
      again = runTun(["up", "shared", String(h.app.port)], h.env({ TUN_HOLDER: "alice@laptop" }));
      await again.waitFor(READY);
      expect(again.stderr()).toMatch(/took over your earlier route for shared\.tun\.test/);
      // The first session notices it lost the name, ends, and leaves the newer session's route alone.
      expect((await alice.exited).code).toBe(1);
      expect(alice.stderr()).toMatch(
        /tun: the name "shared" was taken over by another tun session of alice@laptop/,
      );
      expect(alice.stderr()).not.toContain("removed the route");
      expect(await reachesApp("shared")).toBe(true);

      again.child.kill("SIGINT");
      await again.exited;
      expect(await h.caddy.routeIds()).not.toContain("tun-shared");
    } finally {
      await alice.stop();
      await again?.stop();
    }
  });

  it("several tunnels starting and stopping at once all get, and all release, their routes", async () => {
    const names = ["conc1", "conc2", "conc3"];
    const tuns = names.map((n) => runTun(["up", n, String(h.app.port)], h.env({ TUN_HOLDER: `${n}@host` })));
    try {
      await Promise.all(tuns.map((t) => t.waitFor(READY)));
      expect(await h.caddy.routeIds()).toEqual(expect.arrayContaining(names.map((n) => `tun-${n}`)));
      for (const n of names) expect(await reachesApp(n)).toBe(true);
      for (const t of tuns) t.child.kill("SIGINT");
      expect((await Promise.all(tuns.map((t) => t.exited))).map((e) => e.code)).toEqual([130, 130, 130]);
      const left = await h.caddy.routeIds();
      for (const n of names) expect(left).not.toContain(`tun-${n}`);
    } finally {
      await Promise.all(tuns.map((t) => t.stop()));
    }
  });

  it("takes over a dead tunnel's route from another user", async () => {
    const carol = runTun(["up", "stale", String(h.app.port)], h.env({ TUN_HOLDER: "carol@gone" }));
    try {
      await carol.waitFor(READY);
      carol.child.kill("SIGKILL");
      await carol.exited;
      expect(await h.caddy.routeIds()).toContain("tun-stale");
      const dave = runTun(["up", "stale", String(h.app.port)], h.env({ TUN_HOLDER: "dave@desk" }));
      try {
        // sshd notices the killed client's closed connection and frees its port; until then the name is busy.
        await waitUntil("dave to get the name", async () => {
          if (dave.child.exitCode !== null) throw new Error(`dave exited: ${dave.stderr()}`);
          return READY.test(dave.stderr());
        });
        expect(dave.stderr()).toContain("replaced a dead route for stale.tun.test left by carol@gone");
        expect(await reachesApp("stale")).toBe(true);
        dave.child.kill("SIGINT");
        await dave.exited;
      } finally {
        await dave.stop();
      }
    } finally {
      await carol.stop();
    }
  });

  it("rejects a name that is not a DNS label", async () => {
    const r = await runTunToEnd(["up", "Not_A_Label", String(h.app.port)], h.env());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not a DNS label/);
  });
});

describe("chain proof", () => {
  it("names the local app hop when nothing listens on the port, and leaves no route", async () => {
    const closedPort = await (async () => {
      const { freePort } = await import("../helpers/sshd.js");
      return freePort();
    })();
    const r = await runTunToEnd(["up", "noapp", String(closedPort)], h.env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `preflight check failed: local app on localhost:${closedPort}: nothing is listening on localhost:${closedPort}`,
    );
    expect(await h.caddy.routeIds()).not.toContain("tun-noapp");
  });

  it("names the Caddy hop when the admin API is unreachable", async () => {
    const { freePort } = await import("../helpers/sshd.js");
    const r = await runTunToEnd(
      ["up", "nocaddy", String(h.app.port), "--caddy-admin", `127.0.0.1:${await freePort()}`],
      h.env(),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /preflight check failed: Caddy admin API at 127\.0\.0\.1:\d+ on the VM: does not answer \(.*Connection refused.*\); fix: start Caddy/i,
    );
  });
});

describe("tun janitor", () => {
  it("keeps live routes and removes a SIGKILLed client's route only after the grace period, also when run twice at once", async () => {
    const tun = runTun(["up", "killed", String(h.app.port)], h.env());
    try {
      await tun.waitFor(READY);
      // A route tun did not create (no holder record), pointing at a dead port: not the janitor's business.
      const foreign = {
        "@id": "someone-else",
        match: [{ host: ["other.example.com"] }],
        handle: [{ handler: "reverse_proxy", upstreams: [{ dial: "127.0.0.1:1" }] }],
      };
      const adminPort = Number(h.caddy.admin.split(":")[1]);
      const added = await httpPost(
        adminPort,
        `/config/apps/http/servers/${h.caddy.server}/routes`,
        h.caddy.admin,
        foreign,
      );
      expect(added).toBe(200);

      const live = await runTunToEnd(["janitor", "--grace", "0s"], h.env());
      expect(live.code).toBe(0);
      expect(live.stdout).toMatch(/0 removed/);
      expect(await h.caddy.routeIds()).toEqual(expect.arrayContaining(["tun-killed", "someone-else"]));

      tun.child.kill("SIGKILL");
      await tun.exited;
      const graceMs = 3_000;
      let markedAt = 0;
      await waitUntil(
        "the janitor to remove the route",
        async () => {
          // The mark happens during this pair of runs: no earlier than now.
          const pairStartedAt = Date.now();
          // Two janitors at once, as overlapping timer runs would be: both must succeed.
          const [r, r2] = await Promise.all([
            runTunToEnd(["janitor", "--grace", `${graceMs}ms`], h.env()),
            runTunToEnd(["janitor", "--grace", `${graceMs}ms`], h.env()),
          ]);
          expect([r.code, r2.code, r.stderr + r2.stderr]).toEqual([0, 0, ""]);
          if (!markedAt && /tun-killed: VM port \d+ refuses connections/.test(r.stdout + r2.stdout)) {
            markedAt = pairStartedAt;
            expect(await h.caddy.routeIds()).toContain("tun-killed");
          }
          return !(await h.caddy.routeIds()).includes("tun-killed");
        },
        20_000,
      );
      expect(markedAt).toBeGreaterThan(0);
      expect(await h.caddy.routeIds()).toContain("someone-else");
      // The janitor reads time from Caddy's Date header, whole seconds, for the mark and for
      // the check: by the real clock a route may go up to a second before the grace is over.
      expect(Date.now() - markedAt).toBeGreaterThanOrEqual(graceMs - CADDY_CLOCK_RESOLUTION_MS);
    } finally {
      await tun.stop();
    }
  });
});

function httpPost(port: number, path: string, host: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        headers: { host, "content-type": "application/json" },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}
