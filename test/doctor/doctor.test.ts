// `tun doctor` against the real parts of the tunnel tests (sshd, Caddy, the
// sink) plus a real DNS server (dnsmasq) and the fake ARM: healthy first, then
// each broken hop, named with its fix. The clock check reads the VM's time
// from the sink's HTTP Date header; for the skew case a stand-in sink on the
// "VM" sends a Date five minutes ahead (the machine's clock cannot be moved
// without moving every other test's, and this is the same code path: a real
// HTTP answer through the real SSH forward).
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeArm, type FakeArm } from "../fakes/fake-arm.js";
import { freePort, generateKey, startSshd, type TestSshd } from "../helpers/sshd.js";
import { DOMAIN, runTunToEnd, startHarness, type Harness } from "../tunnel/harness.js";
import { startDns, type TestDns } from "./dnsmasq.js";

interface Result {
  id: string;
  status: "pass" | "fail" | "skip";
  what: string;
  detail: string;
  fix?: string;
}

let h: Harness;
let dns: TestDns;
let dnsNoMx: TestDns;

beforeAll(async () => {
  [h, dns, dnsNoMx] = await Promise.all([
    startHarness(),
    startDns({ addresses: { [DOMAIN]: "127.0.0.1" }, mx: { [`api.${DOMAIN}`]: DOMAIN } }),
    startDns({ addresses: { [DOMAIN]: "127.0.0.1" } }),
  ]);
  // The harness's Caddy serves plain HTTP: that is `tls off`.
  h.writeConfig({ tls: "off" });
});
afterAll(async () => {
  await Promise.allSettled([h?.stop(), dns?.stop(), dnsNoMx?.stop()]);
});

async function doctor(
  extra: string[] = [],
  env: Record<string, string> = {},
  resolver = dns.server,
): Promise<{ code: number | null; results: Result[]; lines: string[] }> {
  const json = await runTunToEnd(["doctor", "api", "--json", "--resolver", resolver, ...extra], h.env(env));
  const human = await runTunToEnd(["doctor", "api", "--resolver", resolver, ...extra], h.env(env));
  expect(human.code).toBe(json.code);
  const parsed = JSON.parse(json.stdout) as { ok: boolean; checks: Result[] };
  expect(parsed.ok).toBe(json.code === 0);
  return { code: json.code, results: parsed.checks, lines: human.stdout.trimEnd().split("\n") };
}

const byId = (results: Result[], id: string): Result => results.find((r) => r.id === id)!;
const failures = (results: Result[]) => results.filter((r) => r.status === "fail").map((r) => r.id);

describe("tun doctor", () => {
  it("passes every check against a healthy setup, one ✓ line each", async () => {
    const { code, results, lines } = await doctor();
    expect(failures(results)).toEqual([]);
    expect(code).toBe(0);
    for (const id of [
      "config",
      "dns.host",
      "dns.wildcard",
      "dns.mx",
      "ssh.reach",
      "ssh.hostkey",
      "ssh.auth",
    ]) {
      expect(byId(results, id).status).toBe("pass");
    }
    for (const id of [
      "ssh.forward",
      "caddy.admin",
      "caddy.server",
      "caddy.tls",
      "sink.health",
      "sink.version",
      "clock",
    ]) {
      expect(byId(results, id).status).toBe("pass");
    }
    expect(byId(results, "caddy.server").detail).toBe(`listens on 127.0.0.1:${h.caddy.httpPort}`);
    expect(byId(results, "dns.mx").detail).toBe(`10 ${DOMAIN} -> the VM`);
    // Azure is not configured here: skipped, which does not fail the run.
    expect(byId(results, "azure.credential")).toMatchObject({ status: "skip" });
    expect(lines).toHaveLength(results.length);
    for (const line of lines) expect(line).toMatch(/^[✓-] /);
    expect(lines).toContain(`✓ Caddy admin API at ${h.caddy.admin} on the VM: answers`);
  });

  it("a wrong host key: names it with the ssh-keygen -R fix and skips what rides on SSH", async () => {
    const other = generateKey(h.dir, "doctor_other_host_key");
    const file = join(h.dir, "known_hosts_wrong");
    const [type, key] = other.publicLine.split(" ");
    writeFileSync(file, `[127.0.0.1]:${h.sshd.port} ${type} ${key}\n`);
    const { code, results, lines } = await doctor(["--known-hosts", file]);
    expect(code).toBe(1);
    expect(failures(results)).toEqual(["ssh.hostkey"]);
    const r = byId(results, "ssh.hostkey");
    expect(r.detail).toMatch(/has CHANGED/);
    expect(r.fix).toMatch(/^If the VM was rebuilt, replace the old key with: ssh-keygen -R/);
    expect(byId(results, "ssh.auth").status).toBe("skip");
    expect(lines.filter((l) => l.startsWith("✗"))).toHaveLength(1);
  });

  it("the user not in the forwarding group: the VM refused the port forward", async () => {
    let sshd: TestSshd | undefined;
    try {
      sshd = await startSshd({
        extraConfig: [`Match User ${h.sshd.user}`, "    AllowTcpForwarding no", "    PermitListen none"],
      });
      const kh = join(h.dir, "known_hosts_nogroup");
      writeFileSync(kh, sshd.knownHostsLine() + "\n");
      // The same user and key as the harness: only the forwarding policy differs.
      writeFileSync(join(sshd.dir, "authorized_keys"), h.sshd.clientKey.publicLine + "\n");
      const flags = ["--ssh-port", String(sshd.port), "--known-hosts", kh];
      const { code, results } = await doctor(flags);
      expect(code).toBe(1);
      expect(failures(results)).toEqual(["ssh.forward"]);
      const r = byId(results, "ssh.forward");
      expect(r.detail).toBe(
        `the VM refused the port forward: is ${h.sshd.user} in the tun group? (refused: both directions)`,
      );
      expect(r.fix).toMatch(/sudo usermod -aG tun /);
      expect(byId(results, "caddy.admin").status).toBe("skip");

      // `tun up` says the same before anything is public, and leaves no route.
      const up = await runTunToEnd(["up", "nogroup", String(h.app.port), ...flags], h.env());
      expect(up.code).toBe(1);
      const failure = up.stderr.split("\n").filter((l) => l.startsWith("tun: "));
      expect(failure).toHaveLength(1);
      expect(failure[0]).toMatch(
        /^tun: preflight check failed: port forwarding for \w+ \(the tun group\): the VM refused the port forward: is \w+ in the tun group\?/,
      );
      expect(up.stderr).not.toMatch(/Caddy/);
      expect(await h.caddy.routeIds()).not.toContain("tun-nogroup");
    } finally {
      await sshd?.stop();
    }
  });

  it("Caddy's admin API down", async () => {
    const { code, results } = await doctor(["--caddy-admin", `127.0.0.1:${await freePort()}`]);
    expect(code).toBe(1);
    expect(failures(results)).toEqual(["caddy.admin"]);
    expect(byId(results, "caddy.admin").detail).toMatch(/does not answer \(.*Connection refused/i);
    expect(byId(results, "caddy.admin").fix).toMatch(/^start Caddy on the VM \(sudo systemctl start caddy/);
  });

  it("the VM's sink down", async () => {
    const { code, results } = await doctor(["--sink", `127.0.0.1:${await freePort()}`]);
    expect(code).toBe(1);
    expect(failures(results)).toEqual(["sink.health"]);
    expect(byId(results, "sink.health").fix).toMatch(/^start it on the VM \(sudo systemctl start smtpsink/);
    expect(byId(results, "clock").status).toBe("skip");
  });

  it("a missing MX record", async () => {
    const { code, results, lines } = await doctor([], {}, dnsNoMx.server);
    expect(code).toBe(1);
    expect(failures(results)).toEqual(["dns.mx"]);
    expect(byId(results, "dns.mx").fix).toBe(
      `add an MX record *.${DOMAIN} -> 10 127.0.0.1. at your DNS provider`,
    );
    expect(lines).toContain(
      lines.find(
        (l) => l.startsWith(`✗ DNS: MX for api.${DOMAIN}: `) && l.includes("; fix: add an MX record"),
      ),
    );
  });

  it("the Resource Manager answering 403", async () => {
    let arm: FakeArm | undefined;
    try {
      arm = await startFakeArm();
      arm.inject({ type: "error", status: 403, code: "AuthorizationFailed", method: "GET", times: 10 });
      const env = {
        ...arm.env(),
        TUN_AZURE_SUBSCRIPTION_ID: arm.subscriptionId,
        TUN_AZURE_RESOURCE_GROUP: arm.resourceGroup,
        TUN_AZURE_NSG: arm.nsg,
        TUN_AZURE_RETRY_BASE: "50ms",
      };
      const { code, results } = await doctor([], env);
      expect(code).toBe(1);
      expect(byId(results, "azure.credential").status).toBe("pass");
      expect(failures(results)).toEqual(["azure.nsg"]);
      expect(byId(results, "azure.nsg").fix).toMatch(/az role assignment create .*Network Contributor/);
      expect(byId(results, "azure.priorities").status).toBe("skip");
    } finally {
      await arm?.stop();
    }
  });

  it("clock skew, read from the sink's HTTP Date through the forward", async () => {
    const AHEAD_MS = 5 * 60_000;
    const health = await (await fetch(`http://127.0.0.1:${h.sink.httpPort}/api/v1/health`)).json();
    const standIn: Server = createServer((_req, res) => {
      res.setHeader("date", new Date(Date.now() + AHEAD_MS).toUTCString());
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(health));
    });
    await new Promise<void>((r) => standIn.listen(0, "127.0.0.1", () => r()));
    try {
      const port = (standIn.address() as AddressInfo).port;
      const { code, results } = await doctor(["--sink", `127.0.0.1:${port}`]);
      expect(code).toBe(1);
      expect(failures(results)).toEqual(["clock"]);
      expect(byId(results, "clock").detail).toMatch(/^the VM's clock is 30\d s ahead of this machine's$/);
      expect(byId(results, "clock").fix).toMatch(/timedatectl set-ntp true/);
    } finally {
      standIn.closeAllConnections();
      await new Promise((r) => standIn.close(r));
    }
  });

  it("a config problem is one ✗ line and exit 2", async () => {
    const r = await runTunToEnd(["doctor", "--ssh-port", "99999"], h.env());
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(
      /^✗ config: config "sshPort" \(from --ssh-port\) must be a whole number from 1 to 65535/,
    );
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
  });
});
