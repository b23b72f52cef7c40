// infra/sshd-tun.conf, the sshd drop-in on the VM, evaluated by the real
// OpenSSH server (`sshd -T` prints the settings that apply to a given user).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = join(import.meta.dirname, "..", "..");
const DROP_IN = join(REPO, "infra/sshd-tun.conf");
const SSHD = "/usr/sbin/sshd";

describe("infra/sshd-tun.conf", () => {
  let dir: string;
  let main: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "tun-sshd-"));
    // sshd refuses to check a config without its privilege separation directory.
    mkdirSync("/run/sshd", { recursive: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key")]);
    // On the VM the tunnel users are in group `tun`; here `root` stands in for
    // it (root is in group root, nobody is not), the rest of the file unchanged.
    const dropIn = readFileSync(DROP_IN, "utf8").replace(/^Match Group tun$/m, "Match Group root");
    expect(dropIn).toContain("Match Group root");
    mkdirSync(join(dir, "conf.d"));
    writeFileSync(join(dir, "conf.d/60-tun.conf"), dropIn);
    // Like Ubuntu's sshd_config: the Include comes first, settings follow it.
    main = join(dir, "sshd_config");
    writeFileSync(
      main,
      [
        `Include ${join(dir, "conf.d")}/*.conf`,
        `HostKey ${join(dir, "host_key")}`,
        "X11Forwarding yes",
        "PasswordAuthentication no",
        "",
      ].join("\n"),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function settingsFor(user: string): Map<string, string> {
    const r = spawnSync(SSHD, ["-T", "-f", main, "-C", `user=${user},host=client,addr=192.0.2.10`], {
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    return new Map(
      r.stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => {
          const sp = l.indexOf(" ");
          return [l.slice(0, sp), l.slice(sp + 1)] as const;
        }),
    );
  }

  it("passes `sshd -t` unchanged", () => {
    const main2 = join(dir, "sshd_config_unchanged");
    writeFileSync(main2, `Include ${DROP_IN}\nHostKey ${join(dir, "host_key")}\n`);
    const r = spawnSync(SSHD, ["-t", "-f", main2], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("lets tunnel users forward both ways, bound to loopback only", () => {
    const s = settingsFor("root");
    expect(s.get("allowtcpforwarding")).toBe("yes");
    expect(s.get("gatewayports")).toBe("no");
  });

  it("refuses forwarding to everyone else", () => {
    const s = settingsFor("nobody");
    expect(s.get("allowtcpforwarding")).toBe("no");
    expect(s.get("allowstreamlocalforwarding")).toBe("no");
    expect(s.get("gatewayports")).toBe("no");
  });

  it("drops dead sessions (and their forwards) within a minute", () => {
    const s = settingsFor("nobody");
    const interval = Number(s.get("clientaliveinterval"));
    const count = Number(s.get("clientalivecountmax"));
    expect(interval).toBeGreaterThan(0);
    expect(interval * count).toBeLessThanOrEqual(60);
  });

  it("does not swallow the settings that follow the Include", () => {
    expect(settingsFor("nobody").get("x11forwarding")).toBe("yes");
  });
});
