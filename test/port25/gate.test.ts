// The gate functions `tun up` and `tun janitor` call (openPort25Lease,
// sweepExpiredLeases), run from the built dist/ in child processes exactly as
// the CLI runs them: environment-only settings, NODE_EXTRA_CA_CERTS trust.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "vitest";
import { parseDescription } from "../../cli/port25/description.js";
import { startFakeArm, type FakeArm } from "../fakes/fake-arm.js";
import { FAST_TIMINGS_ENV, waitUntil } from "./helpers.js";

const DIST = fileURLToPath(new URL("../../cli/dist/cli/", import.meta.url));

// Opens a lease for the tunnel named in argv[2], prints its id, closes it when stdin says "close".
const HOLDER = `
import { loadConfig } from ${JSON.stringify(pathToFileURL(join(DIST, "config/config.js")).href)};
import { openPort25Lease } from ${JSON.stringify(pathToFileURL(join(DIST, "port25/gate.js")).href)};
const log = (line) => process.stderr.write(line + "\\n");
const lease = await openPort25Lease(loadConfig(), { tunnel: process.argv[2], log });
process.stdout.write("OPENED " + lease.leaseId + "\\n");
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) {
  if (chunk.includes("close")) { await lease.close(); await lease.close(); process.stdout.write("CLOSED\\n"); process.exit(0); }
}
`;
const SWEEPER = `
import { loadConfig } from ${JSON.stringify(pathToFileURL(join(DIST, "config/config.js")).href)};
import { sweepExpiredLeases } from ${JSON.stringify(pathToFileURL(join(DIST, "port25/gate.js")).href)};
const n = await sweepExpiredLeases(loadConfig(), { log: (l) => process.stderr.write(l + "\\n") });
process.stdout.write("SWEPT " + n + "\\n");
`;

let dir: string;
let arm: FakeArm;
const children: ChildProcess[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tun-port25-gate-"));
  writeFileSync(join(dir, "holder.mjs"), HOLDER);
  writeFileSync(join(dir, "sweeper.mjs"), SWEEPER);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(async () => {
  arm = await startFakeArm();
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
  await arm.stop();
});

function run(script: string, args: string[] = [], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [join(dir, script), ...args], {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      TUN_CONFIG: join(dir, "no-config.json"),
      ...arm.env(),
      ...FAST_TIMINGS_ENV,
      ...env,
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.push(child);
  const out = { stdout: "", stderr: "" };
  child.stdout!.on("data", (d: Buffer) => (out.stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  return { child, out, exited };
}

const expiry = (rule: string) =>
  parseDescription(arm.rules().find((r) => r.name === rule)?.description)?.expiresAt.getTime();
const live = () =>
  arm
    .rules()
    .filter(
      (r) =>
        r.name.startsWith("tun-smtp-") &&
        (parseDescription(r.description)?.expiresAt.getTime() ?? 0) > Date.now(),
    );

test("a tunnel's lease: opened, renewed while it runs, deleted at exit; a second tunnel keeps port 25 open", async () => {
  const a = run("holder.mjs", ["api"]);
  const b = run("holder.mjs", ["web"]);
  await waitUntil(
    () => /OPENED \w+/.test(a.out.stdout) && /OPENED \w+/.test(b.out.stdout),
    "both leases to open",
    20_000,
  );
  const ruleA = "tun-smtp-" + /OPENED (\w+)/.exec(a.out.stdout)![1];
  const ruleB = "tun-smtp-" + /OPENED (\w+)/.exec(b.out.stdout)![1];
  expect(a.out.stderr).toMatch(
    new RegExp(
      `^\\[port25\\] port 25 open: lease ${ruleA} in ${arm.nsg} \\(expires \\S+Z, renewed while the tunnel runs\\)`,
      "m",
    ),
  );
  expect(
    live()
      .map((r) => r.name)
      .sort(),
  ).toEqual([ruleA, ruleB].sort());
  expect(parseDescription(arm.rules().find((r) => r.name === ruleA)!.description)!.tunnel).toBe("api");

  const first = expiry(ruleA)!;
  await waitUntil(() => (expiry(ruleA) ?? 0) >= first + 1000, "renewal to move the expiry", 10_000);

  a.child.stdin!.write("close\n");
  expect(await a.exited).toBe(0);
  expect(a.out.stdout).toMatch(/CLOSED/);
  expect(a.out.stderr).toMatch(new RegExp(`^\\[port25\\] lease ${ruleA} closed$`, "m"));
  expect(live().map((r) => r.name)).toEqual([ruleB]);

  b.child.stdin!.write("close\n");
  expect(await b.exited).toBe(0);
  expect(live()).toEqual([]);
}, 60_000);

test("SIGKILL leaves the lease; once expired, sweepExpiredLeases removes it (and never a live one)", async () => {
  const a = run("holder.mjs", ["api"]);
  await waitUntil(() => /OPENED \w+/.test(a.out.stdout), "the lease to open", 20_000);
  const rule = "tun-smtp-" + /OPENED (\w+)/.exec(a.out.stdout)![1];
  a.child.kill("SIGKILL");
  await a.exited;
  expect(live().map((r) => r.name)).toEqual([rule]);

  const early = run("sweeper.mjs");
  expect(await early.exited).toBe(0);
  expect(early.out.stdout).toBe("SWEPT 0\n");
  expect(live().map((r) => r.name)).toEqual([rule]);

  // Stand-in for waiting out the 5-minute TTL: move the rule's recorded expiry into the past.
  const r = arm.rules().find((x) => x.name === rule)!;
  arm.seedRule({ ...r, description: r.description!.replace(/exp=\S+/, "exp=2026-01-01T00:00:00Z") });
  const after = run("sweeper.mjs");
  expect(await after.exited).toBe(0);
  expect(after.out.stdout).toBe("SWEPT 1\n");
  expect(after.out.stderr).toMatch(new RegExp(`^\\[port25\\] swept expired lease ${rule} `, "m"));
  expect(arm.rules()).toEqual([]);
}, 60_000);

test("openPort25Lease fails with one line when the NSG is missing", async () => {
  const r = run("holder.mjs", ["api"], { TUN_AZURE_NSG: "gone" });
  expect(await r.exited).not.toBe(0);
  expect(r.out.stderr).toContain(
    `UserError: could not open the port-25 gate: network security group "gone" not found in resource group "${arm.resourceGroup}"; check azure.nsg`,
  );
  expect(arm.rules()).toEqual([]);
}, 30_000);
