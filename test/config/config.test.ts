import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { azureConfigured, envName, flagName, loadConfig, requireKeys } from "../../cli/config/config.js";
import { UsageError } from "../../cli/errors.js";

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tun-config-"));
  file = join(dir, "config.json");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const write = (value: unknown): void => writeFileSync(file, JSON.stringify(value));

describe("tunnel config", () => {
  it("names env vars and flags from the key", () => {
    expect(envName("host")).toBe("TUN_HOST");
    expect(envName("sshPort")).toBe("TUN_SSH_PORT");
    expect(envName("azure.subscriptionId")).toBe("TUN_AZURE_SUBSCRIPTION_ID");
    expect(flagName("sshPort")).toBe("--ssh-port");
    expect(flagName("azure.nsg")).toBe("--azure.nsg");
  });

  it("fills defaults when the file is missing and freezes the result", () => {
    const c = loadConfig({ file, env: { HOME: dir } });
    expect(c).toMatchObject({
      host: null,
      sshPort: 22,
      caddyAdmin: "127.0.0.1:2019",
      caddyServer: "tun",
      sink: "127.0.0.1:8025",
      knownHosts: join(dir, ".ssh/known_hosts"),
    });
    expect(c.azure.priorityRange).toEqual([3000, 3099]);
    expect(c.azure.sourcePrefixes).toEqual(["*"]);
    expect(c.azure.leaseTtlMs).toBe(300_000);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.azure)).toBe(true);
    expect(azureConfigured(c)).toBe(false);
  });

  it("lets env override the file and flags override env", () => {
    write({ host: "file.example", sshPort: 2200, domain: "tun.example.com", azure: { nsg: "nsg-file" } });
    const env = { HOME: dir, TUN_HOST: "env.example", TUN_AZURE_NSG: "nsg-env" };
    const fromEnv = loadConfig({ file, env });
    expect(fromEnv.host).toBe("env.example");
    expect(fromEnv.sshPort).toBe(2200);
    expect(fromEnv.azure.nsg).toBe("nsg-env");
    const fromFlags = loadConfig({ file, env, flags: { host: "flag.example", azure: { nsg: "nsg-flag" } } });
    expect(fromFlags.host).toBe("flag.example");
    expect(fromFlags.azure.nsg).toBe("nsg-flag");
    expect(azureConfigured(fromFlags)).toBe(true);
  });

  it("parses ranges, prefix lists and durations from strings", () => {
    const c = loadConfig({
      file,
      env: {
        HOME: dir,
        TUN_AZURE_PRIORITY_RANGE: "3100-3110",
        TUN_AZURE_SOURCE_PREFIXES: "203.0.113.0/24, 198.51.100.7",
        TUN_AZURE_LEASE_TTL: "10m",
      },
    });
    expect(c.azure.priorityRange).toEqual([3100, 3110]);
    expect(c.azure.sourcePrefixes).toEqual(["203.0.113.0/24", "198.51.100.7"]);
    expect(c.azure.leaseTtlMs).toBe(600_000);
  });

  it.each([
    [{ sshPort: 70000 }, /"sshPort" \(from .*config\.json\) must be a whole number from 1 to 65535/],
    [{ domain: "not a domain" }, /"domain" .* must be a DNS domain/],
    [{ caddyAdmin: "localhost" }, /"caddyAdmin" .* must be HOST:PORT/],
    [{ azure: { priorityRange: [3099, 3000] } }, /"azure.priorityRange" .* LOW-HIGH/],
    [{ azure: { leaseTtl: "5s" } }, /"azure.leaseTtl" .* at least 1m/],
  ])("rejects %j with one line naming the key, the file and the fix", (value, message) => {
    write(value);
    const err = (() => {
      try {
        loadConfig({ file, env: { HOME: dir } });
      } catch (e) {
        return e as Error;
      }
      throw new Error("expected a UsageError");
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(file);
    expect(err.message).not.toContain("\n");
  });

  it("rejects a file that is not JSON", () => {
    writeFileSync(file, "{ host: ");
    expect(() => loadConfig({ file, env: {} })).toThrow(/is not valid JSON .*tun init/);
  });

  it("requireKeys names the missing key and every way to set it", () => {
    const c = loadConfig({ file, env: { HOME: dir } });
    expect(() => requireKeys(c, ["host"])).toThrow(
      `config "host" is not set in ${file}; run "tun init", or pass --host or set TUN_HOST`,
    );
    expect(() => requireKeys(c, ["azure.subscriptionId"])).toThrow(
      /--azure.subscription-id .*TUN_AZURE_SUBSCRIPTION_ID/,
    );
  });
});
