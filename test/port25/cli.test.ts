// `tun port25 …` through the real binary (dist/cli/main.js, built by `npm run
// build`) against the fake ARM: the child trusts the fake's certificate via
// NODE_EXTRA_CA_CERTS and authenticates with TUN_AZURE_ACCESS_TOKEN.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { parseDescription } from "../../cli/port25/description.js";
import { startFakeArm, type FakeArm } from "../fakes/fake-arm.js";
import { FAST_TIMINGS_ENV } from "./helpers.js";

const MAIN = fileURLToPath(new URL("../../cli/dist/cli/main.js", import.meta.url));
const CHILD_TIMEOUT_MS = 30_000;

let arm: FakeArm;
let home: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "tun-port25-cli-"));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));
beforeEach(async () => {
  arm = await startFakeArm();
});
afterEach(() => arm.stop());

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tun(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("TUN_") && !k.startsWith("AZURE_")),
  );
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: {
      ...base,
      HOME: home,
      XDG_CONFIG_HOME: join(home, "config"),
      ...arm.env(),
      ...FAST_TIMINGS_ENV,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`tun ${args.join(" ")} did not exit within ${CHILD_TIMEOUT_MS} ms; stderr: ${stderr}`),
      );
    }, CHILD_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const FUTURE = "2099-01-01T00:00:00Z";
const leaseDesc = (owner: string, tunnel: string, exp: string) =>
  `tun lease owner=${owner} tunnel=${tunnel} exp=${exp}`;

describe("tun port25 status", () => {
  test("closed, in both modes", async () => {
    const human = await tun(["port25", "status"]);
    expect(human).toMatchObject({ code: 0, stderr: "" });
    expect(human.stdout).toBe(
      `port 25: closed (no live lease) — NSG ${arm.nsg} in resource group ${arm.resourceGroup}\n`,
    );
    const json = await tun(["port25", "status", "--json"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      open: false,
      subscriptionId: arm.subscriptionId,
      resourceGroup: arm.resourceGroup,
      nsg: arm.nsg,
      awaitingSweep: [],
      leases: [],
      otherRules: [],
    });
  });

  test("an expired rule that is still present keeps port 25 open until a sweep", async () => {
    arm.seedRule({
      name: "tun-smtp-old",
      priority: 3003,
      description: leaseDesc("carol@gone", "api", "2020-01-01T00:00:00Z"),
    });
    const human = await tun(["port25", "status"]);
    expect(human.code).toBe(0);
    expect(human.stdout.split("\n")[0]).toBe(
      `port 25: open (expired lease tun-smtp-old, awaiting sweep) — NSG ${arm.nsg} in resource group ${arm.resourceGroup}`,
    );
    const json = JSON.parse((await tun(["port25", "status", "--json"])).stdout);
    expect(json).toMatchObject({ open: true, awaitingSweep: ["tun-smtp-old"] });
  });

  test("open with every lease (owner, tunnel, expiry), expired ones marked, in both modes", async () => {
    arm.seedRule({
      name: "tun-smtp-aaa",
      priority: 3001,
      description: leaseDesc("alice@laptop", "api", FUTURE),
    });
    arm.seedRule({
      name: "tun-smtp-bbb",
      priority: 3002,
      description: leaseDesc("bob@desk", "web", "2020-01-01T00:00:00Z"),
    });
    arm.seedRule({ name: "allow-ssh", priority: 300, destinationPortRange: "22" });
    arm.seedRule({ name: "legacy-mail", priority: 400, protocol: "*", destinationPortRange: "20-30" });
    arm.seedRule({ name: "deny-mail", priority: 401, access: "Deny", destinationPortRange: "25" });
    const human = await tun(["port25", "status"]);
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(
      `port 25: open (1 live lease) — NSG ${arm.nsg} in resource group ${arm.resourceGroup}`,
    );
    expect(lines[1]).toMatch(
      /^ {2}tun-smtp-aaa {2}owner=alice@laptop {2}tunnel=api {2}expires=2099-01-01T00:00:00Z \(in \d+h\d*m?\) {2}priority=3001$/,
    );
    expect(lines[2]).toBe(
      "  tun-smtp-bbb  owner=bob@desk  tunnel=web  expired=2020-01-01T00:00:00Z (awaiting sweep)  priority=3002",
    );
    expect(lines[3]).toBe(
      "  note: rule legacy-mail (priority 400) is not a tun lease and also allows inbound TCP port 25",
    );
    expect(lines).toHaveLength(4);

    const json = JSON.parse((await tun(["port25", "status", "--json", "--azure.nsg", arm.nsg])).stdout);
    expect(json.open).toBe(true);
    expect(json.otherRules).toEqual([{ name: "legacy-mail", priority: 400 }]);
    expect(json.leases).toEqual([
      {
        leaseId: "aaa",
        rule: "tun-smtp-aaa",
        owner: "alice@laptop",
        tunnel: "api",
        expiresAt: FUTURE,
        expired: false,
        priority: 3001,
      },
      {
        leaseId: "bbb",
        rule: "tun-smtp-bbb",
        owner: "bob@desk",
        tunnel: "web",
        expiresAt: "2020-01-01T00:00:00Z",
        expired: true,
        priority: 3002,
      },
    ]);
  });
});

describe("tun port25 open / close / sweep", () => {
  test("a manual lease opens port 25 until its TTL; close removes only the caller's leases", async () => {
    arm.seedRule({
      name: "tun-smtp-other",
      priority: 3090,
      description: leaseDesc("carol@elsewhere", "api", FUTURE),
    });
    const opened = await tun(["port25", "open", "--ttl", "30m"]);
    expect(opened.code).toBe(0);
    expect(opened.stdout).toMatch(
      /^port 25 open until \S+Z \(lease tun-smtp-\w+, priority \d+\); it is not renewed/,
    );
    const mine = arm.rules().find((r) => r.name !== "tun-smtp-other")!;
    const rec = parseDescription(mine.description)!;
    expect(rec.tunnel).toBe("manual");
    expect(Math.abs(rec.expiresAt.getTime() - (Date.now() + 30 * 60_000))).toBeLessThan(10_000);

    const closed = await tun(["port25", "close"]);
    expect(closed.code).toBe(0);
    expect(closed.stdout).toBe(
      `closed ${mine.name} (owner=${rec.owner} tunnel=manual)\nport 25 stays open: 1 other live lease\n`,
    );
    expect(arm.rules().map((r) => r.name)).toEqual(["tun-smtp-other"]);
    expect((await tun(["port25", "close"])).stdout).toMatch(/^no port-25 lease owned by \S+@\S+ \(use --all/);

    const all = await tun(["port25", "close", "--all"]);
    expect(all.stdout).toBe("closed tun-smtp-other (owner=carol@elsewhere tunnel=api)\nport 25: closed\n");
    expect(arm.rules()).toEqual([]);
  });

  test("two clients opening at once under Azure contention both get a lease, on different priorities", async () => {
    arm.inject({ type: "busy", method: "PUT", times: 2 });
    arm.inject({ type: "lroFailed", method: "PUT" });
    const env = {
      TUN_AZURE_PRIORITY_RANGE: "3000-3001",
      TUN_AZURE_SOURCE_PREFIXES: "203.0.113.0/24,198.51.100.0/24",
    };
    const [a, b] = await Promise.all([
      tun(["port25", "open", "--name", "a"], env),
      tun(["port25", "open", "--name", "b"], env),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    // Retries are visible (one line each) but nothing failed.
    expect(a.stderr + b.stderr).toMatch(
      /^\[port25\] could not write rule tun-smtp-\w+: .*; retry 1 of 7 in/m,
    );
    expect(a.stderr + b.stderr).not.toMatch(/^tun:/m);
    expect(arm.pendingFaults()).toBe(0);
    const rules = arm.rules();
    expect(rules.map((r) => r.priority).sort()).toEqual([3000, 3001]);
    for (const r of rules) expect(r.sourceAddressPrefixes).toEqual(["203.0.113.0/24", "198.51.100.0/24"]);
    expect(rules.map((r) => parseDescription(r.description)!.tunnel).sort()).toEqual(["a", "b"]);
  });

  test("sweep removes a lease left behind by a killed client once it has expired", async () => {
    arm.seedRule({
      name: "tun-smtp-killed",
      priority: 3003,
      description: leaseDesc("dave@pc", "api", "2026-01-01T00:00:00Z"),
    });
    arm.seedRule({ name: "tun-smtp-live", priority: 3004, description: leaseDesc("erin@pc", "web", FUTURE) });
    const r = await tun(["port25", "sweep"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("removed 1 expired lease\n");
    expect(r.stderr).toMatch(/^\[port25\] swept expired lease tun-smtp-killed \(owner=dave@pc tunnel=api/);
    expect(arm.rules().map((x) => x.name)).toEqual(["tun-smtp-live"]);
  });

  test("bad --ttl and unknown --azure.* flags are usage errors", async () => {
    const ttl = await tun(["port25", "open", "--ttl", "2s"]);
    expect(ttl).toMatchObject({ code: 2, stdout: "" });
    expect(ttl.stderr).toBe('tun: --ttl "2s" must be a duration from 10s to 24h, e.g. 30m\n');
    const flag = await tun(["port25", "status", "--azure.nsgg", "x"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^tun: unknown option --azure.nsgg; known: --azure.subscription-id/);
  });
});

describe("one-line failures, no stack traces", () => {
  test("missing config, rejected token, missing NSG", async () => {
    const missing = await tun(["port25", "status"], { TUN_AZURE_NSG: "" });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /^tun: config "azure.nsg" is not set in .*; run "tun init", or pass --azure.nsg or set TUN_AZURE_NSG\n$/,
    );

    const token = await tun(["port25", "status"], { TUN_AZURE_ACCESS_TOKEN: "stale" });
    expect(token.code).toBe(1);
    expect(token.stderr).toMatch(
      /^tun: could not read the port-25 leases: Azure rejected the token in TUN_AZURE_ACCESS_TOKEN \(401 InvalidAuthenticationToken\); .*`az login`\n$/,
    );

    const nsg = await tun(["port25", "open"], { TUN_AZURE_NSG: "missing-nsg" });
    expect(nsg.code).toBe(1);
    expect(nsg.stderr).toBe(
      `tun: could not open port 25: network security group "missing-nsg" not found in resource group "${arm.resourceGroup}"; check azure.nsg\n`,
    );
  });

  test("sign-in failure with DefaultAzureCredential names what was tried and the fix", async () => {
    const r = await tun(["port25", "status"], {
      TUN_AZURE_ACCESS_TOKEN: "",
      // Keep the credential chain local and quick: no managed-identity endpoint, no az/azd on PATH.
      PATH: "/nonexistent",
      IDENTITY_ENDPOINT: "",
      MSI_ENDPOINT: "",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^tun: could not read the port-25 leases: could not sign in to Azure \(tried .*\); run `az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET/,
    );
    expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
  }, 60_000);
});
