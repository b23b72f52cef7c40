// The CLI entry point's contract: usage mistakes are one line with exit 2,
// never a stack trace; `tun <name> <port>` is shorthand for `tun up`.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../../cli/dist/cli/main.js", import.meta.url));
const run = (...args: string[]) => runWith({}, ...args);
const runWith = (env: Record<string, string>, ...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });

describe("tun entry point", () => {
  it("lists every command in --help", () => {
    const r = run("--help");
    expect(r.status).toBe(0);
    for (const cmd of ["sink", "watch", "mail", "init", "up", "doctor", "logs", "port25", "janitor"]) {
      expect(r.stdout).toContain(`tun ${cmd}`);
    }
  });

  it("answers an unknown command with one line and exit code 2", () => {
    const r = run("frobnicate");
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines.at(-1)).toMatch(/^tun: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("routes the shorthand `tun <name> <port>` to `tun up`", () => {
    const r = run("api", "3000", "--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/tun up/);
  });

  it("accepts --azure.* flags on every command that reads the config, and rejects unknown ones", () => {
    const dir = mkdtempSync(join(tmpdir(), "tun-main-"));
    const env = { TUN_CONFIG: join(dir, "config.json"), HOME: dir };
    try {
      const init = ["init", "--host", "vm.test", "--user", "dev", "--domain", "tun.test", "-y"];
      const ok = runWith(env, ...init, "--azure.nsg", "nsg-1", "--azure.subscription-id", "sub-1");
      expect(ok.status).toBe(0);
      const written = JSON.parse(readFileSync(env.TUN_CONFIG, "utf8"));
      expect(written.azure).toEqual({ nsg: "nsg-1", subscriptionId: "sub-1" });
      for (const cmd of [init, ["janitor", "--grace", "1s"], ["port25", "status"]]) {
        const bad = runWith(env, ...cmd, "--azure.bogus", "1");
        expect(bad.status, cmd.join(" ")).toBe(2);
        expect(bad.stderr.trim()).toMatch(
          /^tun: unknown option --azure.bogus; known: --azure.subscription-id/,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
