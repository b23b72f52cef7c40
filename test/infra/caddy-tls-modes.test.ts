// The three base configs the installer chooses from by TUN_TLS: each is
// accepted by the real Caddy, keeps the CLI's defaults (admin address, server
// name, empty routes), and is read by `tun doctor` as the mode it is for.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULTS } from "../../cli/config/config.js";
import { caddyTlsMode } from "../../cli/doctor/vm-checks.js";
import { caddyEnv } from "./caddy-process.js";

const INFRA = join(import.meta.dirname, "..", "..", "infra");
const MODES = [
  ["acme", "caddy.json", [":443", ":80"]],
  ["internal", "caddy-internal.json", [":443", ":80"]],
  ["off", "caddy-http.json", [":80"]],
] as const;

describe.each(MODES)("TUN_TLS=%s (infra/%s)", (mode, file, listen) => {
  const path = join(INFRA, file);
  const config = JSON.parse(readFileSync(path, "utf8"));

  it("validates with caddy and keeps the CLI's defaults", () => {
    const dir = mkdtempSync(join(tmpdir(), "tun-caddy-modes-"));
    try {
      const r = spawnSync("caddy", ["validate", "--config", path], { encoding: "utf8", env: caddyEnv(dir) });
      expect(r.status, r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(config.admin.listen).toBe(DEFAULTS.caddyAdmin);
    const server = config.apps.http.servers[DEFAULTS.caddyServer];
    expect(server.listen).toEqual(listen);
    expect(server.routes).toEqual([]);
  });

  it(`is what tun doctor calls "${mode}"`, () => {
    expect(caddyTlsMode(config.apps.http, config.apps.tls ?? null, DEFAULTS.caddyServer)).toBe(mode);
  });
});
