// `tun up` on a real terminal (a pty from util-linux `script`): the passphrase
// of an encrypted key is asked without echo, and Ctrl-C typed on the terminal
// tears down and exits 130.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopChild } from "../helpers/sshd.js";
import { TUN_BIN, startHarness, waitUntil, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

function onTerminal(args: string[], env: Record<string, string> = {}) {
  const cmd = [process.execPath, TUN_BIN, ...args].map((a) => `'${a}'`).join(" ");
  const child = spawn("script", ["-qfec", cmd, "/dev/null"], {
    env: { ...process.env, SSH_AUTH_SOCK: "", NO_COLOR: "1", ...h.env(), ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return {
    child,
    output: () => out,
    type: (s: string) => child.stdin!.write(s),
    waitFor: async (re: RegExp) => {
      try {
        await waitUntil(String(re), () => re.test(out) || child.exitCode !== null);
      } catch (err) {
        throw new Error(`${(err as Error).message}; output so far:\n${JSON.stringify(out)}`);
      }
    },
    exited,
  };
}

describe("on a terminal", () => {
  it("asks for the key's passphrase without echo, and Ctrl-C removes the route and exits 130", async () => {
    const t = onTerminal([
      "up",
      "tty",
      String(h.app.port),
      "--identity-file",
      h.sshd.encryptedClientKey.privatePath,
    ]);
    try {
      await t.waitFor(/Passphrase for .*client_encrypted: /);
      t.type("secret\r");
      await t.waitFor(/streaming mail for @tty\.tun\.test/);
      expect(t.output()).not.toContain("secret");
      expect(await h.caddy.routeIds()).toContain("tun-tty");
      t.type("\x03");
      expect(await t.exited).toBe(130);
      expect(t.output()).toContain("removed the route for tty.tun.test");
      expect(await h.caddy.routeIds()).not.toContain("tun-tty");
    } finally {
      await stopChild(t.child);
    }
  });

  it("says so in one line when the passphrase is wrong", async () => {
    const t = onTerminal([
      "up",
      "tty2",
      String(h.app.port),
      "--identity-file",
      h.sshd.encryptedClientKey.privatePath,
    ]);
    try {
      await t.waitFor(/Passphrase for /);
      t.type("wrong\r");
      expect(await t.exited).toBe(1);
      expect(t.output()).toMatch(/tun: wrong passphrase for .*client_encrypted/);
    } finally {
      await stopChild(t.child);
    }
  });
});

describe("tun init on a terminal", () => {
  it("asks for each key with the current value as default", async () => {
    const file = join(h.dir, "init-tty.json");
    const t = onTerminal(["init", "--user", "flaguser"], { TUN_CONFIG: file, SSH_AUTH_SOCK: "/tmp/agent" });
    try {
      const answers: Array<[RegExp, string]> = [
        [/Tunnel VM host name or address \[\]: /, "vm.example.com"],
        [/SSH port \[22\]: /, ""],
        [/SSH user on the VM \[flaguser\]: /, ""],
        [/Private key file \(empty: use ssh-agent\) \[\]: /, ""],
        [/known_hosts file \[.*known_hosts\]: /, ""],
        [/Tunnel base domain .*\[\]: /, "tun.example.com"],
        [/Caddy admin API on the VM \[127\.0\.0\.1:2019\]: /, ""],
        [/Caddy server holding tunnel routes \[tun\]: /, ""],
        [/Sink HTTP listener on the VM \[127\.0\.0\.1:8025\]: /, "127.0.0.1:8026"],
        [/TLS on the VM: acme, internal or off \[acme\]: /, "internal"],
      ];
      for (const [prompt, answer] of answers) {
        await t.waitFor(prompt);
        t.type(answer + "\r");
      }
      expect(await t.exited).toBe(0);
      const written = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
      expect(written).toMatchObject({
        host: "vm.example.com",
        sshPort: 22,
        user: "flaguser",
        domain: "tun.example.com",
        sink: "127.0.0.1:8026",
        tls: "internal",
      });
      expect(t.output()).toMatch(/tls internal: Caddy signs tunnel certificates with its own CA/);
    } finally {
      await stopChild(t.child);
    }
  });
});
