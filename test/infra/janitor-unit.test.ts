// tun-janitor.service's ExecStart run for real against a real Caddy holding the
// base config: as a throwaway non-root UID (what DynamicUser= gives it) with no
// capabilities, no new privileges and (when strace is installed) the unit's
// system call filter emulated, with the environment install.sh writes to
// /etc/tun/janitor.env when Azure is not configured. The janitor must mark a
// dead tunnel's route, keep a live one, and (past the grace period) remove the
// dead one. See unit-sandbox.ts for what the emulation leaves out.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULTS } from "../../cli/config/config.js";
import { buildRoute } from "../../cli/tunnel/route.js";
import { adminRequest, freePort, startBaseCaddy, type RunningCaddy } from "./caddy-process.js";
import { parseUnitFile, value, values } from "./unit-file.js";
import { confinedCommand, hasStrace, refusedCallsAttempted, unitEnvironment } from "./unit-sandbox.js";

const REPO = join(import.meta.dirname, "..", "..");
const UNIT = parseUnitFile(join(REPO, "systemd/tun-janitor.service"));
const CLI = join(REPO, "cli/dist/cli/main.js");
/** A UID from the range systemd allocates DynamicUser= accounts from (61184-65519). */
const DYNAMIC_UID = 61184 + Math.floor(Math.random() * 4000);
const DOMAIN = "tun.example.com";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  refused: string[];
}

describe("tun-janitor.service's ExecStart against a real Caddy", () => {
  let caddy: RunningCaddy;
  let live: Server;
  let livePort: number;
  let deadPort: number;
  let logDir: string;

  beforeAll(async () => {
    expect(existsSync(CLI), `${CLI} missing: run npm run build`).toBe(true);
    logDir = mkdtempSync(join(tmpdir(), "tun-janitor-unit-"));
    chownSync(logDir, DYNAMIC_UID, DYNAMIC_UID);
    caddy = await startBaseCaddy();
    live = createServer((_req, res) => res.end("live"));
    live.listen(0, "127.0.0.1");
    await once(live, "listening");
    livePort = (live.address() as AddressInfo).port;
    deadPort = await freePort(); // free now, so connections to it are refused

    const since = new Date().toISOString();
    for (const [name, port] of [
      ["gone", deadPort],
      ["alive", livePort],
    ] as const) {
      const res = await adminRequest(
        caddy.admin,
        "POST",
        `/config/apps/http/servers/${DEFAULTS.caddyServer}/routes`,
        buildRoute(name, DOMAIN, { holder: "alice@laptop", since, upstreamPort: port }),
      );
      expect(res.status, res.text).toBe(200);
    }
  });

  afterAll(async () => {
    await caddy?.stop();
    live?.close();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  /** The unit's ExecStart (checked verbatim) plus extra flags, confined, with janitor.env's variables. */
  async function runJanitor(extraArgs: string[], logName: string): Promise<Run> {
    expect(value(UNIT, "Service", "ExecStart")).toBe("/usr/bin/node /opt/tun/cli/dist/cli/main.js janitor");
    expect(values(UNIT, "Service", "DynamicUser")).toEqual(["yes"]);
    expect(values(UNIT, "Service", "CapabilityBoundingSet")).toEqual([""]);
    const log = join(logDir, logName);
    const [cmd, ...args] = confinedCommand([process.execPath, CLI, "janitor", ...extraArgs], {
      uid: DYNAMIC_UID,
      gid: DYNAMIC_UID,
      capabilities: [],
      ...(hasStrace ? { seccompLog: { unit: UNIT, file: log } } : {}),
    });
    const child = spawn(cmd!, args, {
      cwd: "/",
      env: {
        PATH: "/usr/bin:/bin",
        // DynamicUser= accounts have / as their home: no config file there.
        HOME: "/",
        ...unitEnvironment(UNIT),
        // /etc/tun/janitor.env as install.sh writes it without Azure settings.
        AZURE_CLIENT_ID: "",
        TUN_AZURE_SUBSCRIPTION_ID: "",
        TUN_AZURE_RESOURCE_GROUP: "",
        TUN_AZURE_NSG: "",
        // Only because this Caddy's admin API is not on the default 127.0.0.1:2019.
        TUN_CADDY_ADMIN: caddy.admin,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    return { code, stdout, stderr, refused: hasStrace ? refusedCallsAttempted(log) : [] };
  }

  async function routeIds(): Promise<string[]> {
    const res = await adminRequest(
      caddy.admin,
      "GET",
      `/config/apps/http/servers/${DEFAULTS.caddyServer}/routes`,
    );
    return (res.json as { "@id": string }[]).map((r) => r["@id"]);
  }

  it("marks the dead tunnel's route and keeps the live one", async () => {
    const run = await runJanitor([], "first.log");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^\[janitor\] routes: 0 removed, 1 dead within grace, 1 live$/m);
    expect(run.refused).toEqual([]);
    const gone = (await adminRequest(caddy.admin, "GET", "/id/tun-gone")).json as {
      handle: Record<string, unknown>[];
    };
    expect(gone.handle.find((h) => h.handler === "vars")?.tun_dead_since).toEqual(expect.any(String));
  });

  it("removes it once the grace period has passed", async () => {
    const run = await runJanitor(["--grace", "0s"], "second.log");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^\[janitor\] routes: 1 removed, 0 dead within grace, 1 live$/m);
    expect(run.refused).toEqual([]);
    expect(await routeIds()).toEqual(["tun-alive"]);
  });
});
