// `tun init` and `tun logs` as a user runs them.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSshd, type TestSshd } from "../helpers/sshd.js";
import { runTun, runTunToEnd } from "./harness.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tun-commands-test-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("tun init", () => {
  it("writes the config from flags without asking when stdin is not a terminal", async () => {
    const file = join(dir, "fresh", "tun", "config.json");
    const r = await runTunToEnd(
      [
        "init",
        "--host",
        "vm.example.com",
        "--user",
        "tun",
        "--domain",
        "tun.example.com",
        "--ssh-port",
        "2222",
      ],
      { TUN_CONFIG: file, HOME: dir, SSH_AUTH_SOCK: "/tmp/agent.sock" },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`[init] wrote ${file}`);
    const written = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    expect(written).toEqual({
      host: "vm.example.com",
      sshPort: 2222,
      user: "tun",
      knownHosts: join(dir, ".ssh", "known_hosts"),
      domain: "tun.example.com",
      caddyAdmin: "127.0.0.1:2019",
      caddyServer: "tun",
      sink: "127.0.0.1:8025",
      tls: "acme",
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("keeps what the existing file has and overlays the flags", async () => {
    const file = join(dir, "existing.json");
    writeFileSync(
      file,
      JSON.stringify({
        host: "old.example.com",
        user: "me",
        domain: "a.example.com",
        caddyServer: "custom",
        azure: { nsg: "vm-nsg" },
      }),
    );
    const r = await runTunToEnd(["init", "--host", "new.example.com"], {
      TUN_CONFIG: file,
      HOME: dir,
      SSH_AUTH_SOCK: "/tmp/agent.sock",
    });
    expect(r.code).toBe(0);
    const written = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    expect(written.host).toBe("new.example.com");
    expect(written.caddyServer).toBe("custom");
    expect(written.azure).toEqual({ nsg: "vm-nsg" });
  });

  it("names the missing keys and their flags in one line, writing nothing", async () => {
    const file = join(dir, "missing.json");
    const r = await runTunToEnd(["init", "--host", "vm.example.com"], { TUN_CONFIG: file, HOME: dir });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'tun: tun init needs "user", "domain": pass --user, --domain (or run it in a terminal to be asked)',
    );
    expect(() => statSync(file)).toThrow();
  });

  it("refuses a bad value naming the key", async () => {
    const file = join(dir, "bad.json");
    const r = await runTunToEnd(
      ["init", "--host", "h", "--user", "u", "--domain", "d.example.com", "--caddy-admin", "nope"],
      { TUN_CONFIG: file, HOME: dir },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config "caddyAdmin" .* must be HOST:PORT/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});

describe("tun logs", () => {
  let sshd: TestSshd;
  let env: Record<string, string>;
  beforeAll(async () => {
    // sshd runs this instead of the requested command, so the test sees exactly what tun asked for.
    const script = join(dir, "fake-journal.sh");
    writeFileSync(
      script,
      [
        "#!/bin/sh",
        'echo "remote: $SSH_ORIGINAL_COMMAND"',
        'case "$SSH_ORIGINAL_COMMAND" in *" -f"*) i=0; while [ $i -lt 600 ]; do echo "entry $i"; i=$((i+1)); sleep 0.1; done;; esac',
        "",
      ].join("\n"),
    );
    chmodSync(script, 0o755);
    sshd = await startSshd({ extraConfig: [`ForceCommand ${script}`] });
    const knownHosts = join(dir, "logs_known_hosts");
    writeFileSync(knownHosts, sshd.knownHostsLine() + "\n");
    const config = join(dir, "logs.json");
    writeFileSync(
      config,
      JSON.stringify({
        host: sshd.host,
        sshPort: sshd.port,
        user: sshd.user,
        identityFile: sshd.clientKey.privatePath,
        knownHosts,
        domain: "tun.test",
      }),
    );
    env = { TUN_CONFIG: config, HOME: dir, SSH_AUTH_SOCK: "" };
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it("runs journalctl for the sink's unit with the given options and prints its output", async () => {
    const r = await runTunToEnd(["logs", "-n", "20", "--since", "1 hour ago"], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("remote: journalctl -u smtpsink --no-pager -n 20 --since '1 hour ago'\n");
  });

  it("follows with -f until Ctrl-C, then exits 130", async () => {
    const tun = runTun(["logs", "-f"], env);
    try {
      await tun.waitFor(/entry 2\n/);
      expect(tun.stdout()).toMatch(/^remote: journalctl -u smtpsink --no-pager -f\n/);
      tun.child.kill("SIGINT");
      expect((await tun.exited).code).toBe(130);
    } finally {
      await tun.stop();
    }
  });
});
