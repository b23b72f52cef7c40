// The CLI entry point's contract: usage mistakes are one line with exit 2,
// never a stack trace; `tun <name> <port>` is shorthand for `tun up`.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });

describe("tun entry point", () => {
  it("lists every command in --help", () => {
    const r = run("--help");
    expect(r.status).toBe(0);
    for (const cmd of ["sink", "watch", "mail", "init", "up", "logs", "port25", "janitor"]) {
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
});
