// infra/install.sh: shellcheck-clean, and idempotent.
//
// What the idempotency tests prove: the script's own decisions. It runs for
// real (bash, its file writes, hashing, tar) against a scratch root (ROOT=…),
// with fixtures/fake-system.sh standing in for apt-get, dpkg-query, systemctl,
// useradd and friends; the stand-ins remember state (installed packages, users,
// enabled/active units) the way a system would. A second run must write no file
// and make no state-changing call. What they do not prove: that apt, NodeSource,
// Caddy's repo, useradd or systemd behave as assumed on a real Ubuntu 24.04 VM
// (that needs a VM; see docs/deploy.md), nor that the build in /opt/tun works
// (npm is a stand-in here; the real build is covered by `npm run build`).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const REPO = join(import.meta.dirname, "..", "..");
const FAKE = join(import.meta.dirname, "fixtures", "fake-system.sh");
const FAKED_TOOLS = [
  "apt-get",
  "dpkg-query",
  "node",
  "npm",
  "curl",
  "gpg",
  "getent",
  "groupadd",
  "useradd",
  "usermod",
  "id",
  "sshd",
  "systemctl",
];
/** Calls that only look: the only ones a run with nothing to do may make. */
const READ_ONLY_CALL = /^(dpkg-query -W |node --version|getent |id -nG |systemctl is-(enabled|active) )/;

describe("shellcheck", () => {
  it("finds nothing in infra/install.sh (or the fake system used to test it)", () => {
    const r = spawnSync("shellcheck", [join(REPO, "infra/install.sh"), FAKE], { encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("install.sh against a scratch root and a fake system", () => {
  let dir: string;
  let src: string;
  let root: string;
  let state: string;
  let bin: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tun-install-"));
    // A frozen copy of what install.sh reads, so other work in the repo cannot
    // change the sources between two runs.
    src = join(dir, "src");
    for (const part of ["infra", "systemd", "package.json", "package-lock.json"]) {
      cpSync(join(REPO, part), join(src, part), { recursive: true });
    }
    root = join(dir, "root");
    state = join(dir, "state");
    bin = join(dir, "bin");
    for (const d of [root, state, bin, join(state, "users"), join(state, "active")]) {
      mkdirSync(d, { recursive: true });
    }
    for (const tool of FAKED_TOOLS) symlinkSync(FAKE, join(bin, tool));
    // The VM as Azure hands it over: the admin user exists, sshd runs.
    writeFileSync(join(state, "users", "azureuser"), "");
    writeFileSync(join(state, "active", "ssh.service"), "");
    mkdirSync(join(root, "etc/tun"), { recursive: true });
    writeFileSync(
      join(root, "etc/tun/install.env"),
      [
        "# written by cloud-init",
        "TUN_DOMAIN=tun.example.com",
        "TUN_USERS=azureuser",
        "ACME_EMAIL=ops@example.com",
        "AZURE_CLIENT_ID=11111111-2222-3333-4444-555555555555",
        "AZURE_SUBSCRIPTION_ID=00000000-0000-0000-0000-000000000000",
        "AZURE_RESOURCE_GROUP=tun-rg",
        "AZURE_NSG=tun-nsg",
        "",
      ].join("\n"),
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function install(env: Record<string, string> = {}): { output: string; calls: string[] } {
    writeFileSync(join(state, "calls.log"), "");
    const r = spawnSync("bash", [join(src, "infra/install.sh")], {
      encoding: "utf8",
      env: { PATH: `${bin}:/usr/bin:/bin`, ROOT: root, FAKE_STATE: state, ...env },
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const calls = readFileSync(join(state, "calls.log"), "utf8").split("\n").filter(Boolean);
    return { output: r.stdout, calls };
  }

  /** Every file under the scratch root with its mode and content hash. */
  function snapshot(): Map<string, string> {
    const files = new Map<string, string>();
    const walk = (d: string): void => {
      for (const entry of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (entry.isSymbolicLink()) files.set(relative(root, p), "link");
        else {
          const hash = createHash("sha256").update(readFileSync(p)).digest("hex");
          files.set(relative(root, p), `${statSync(p).mode.toString(8)} ${hash}`);
        }
      }
    };
    walk(root);
    return files;
  }

  const mutations = (calls: string[]) => calls.filter((c) => !READ_ONLY_CALL.test(c));

  it("writes Caddy's base config for TUN_TLS internal and off, and refuses another value before changing anything", () => {
    install({ TUN_TLS: "internal" });
    const internal = JSON.parse(readFileSync(join(root, "etc/caddy/tun.json"), "utf8"));
    expect(internal.apps.tls.automation.policies[0].issuers).toEqual([{ module: "internal" }]);
    expect(internal.apps.pki.certificate_authorities.local.install_trust).toBe(false);
    expect(internal.apps.http.servers.tun.listen).toEqual([":443", ":80"]);
    install({ TUN_TLS: "off" });
    const plain = JSON.parse(readFileSync(join(root, "etc/caddy/tun.json"), "utf8"));
    expect(plain.apps.http.servers.tun).toEqual({
      listen: [":80"],
      automatic_https: { disable: true },
      routes: [],
    });
    const before = snapshot();
    const bad = spawnSync("bash", [join(src, "infra/install.sh")], {
      encoding: "utf8",
      env: { PATH: `${bin}:/usr/bin:/bin`, ROOT: root, FAKE_STATE: state, TUN_TLS: "letsencrypt" },
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/TUN_TLS "letsencrypt" must be acme, internal or off/);
    expect(snapshot()).toEqual(before);
  }, 150_000); // two full runs of the installer

  it("installs everything on a fresh VM", () => {
    const { output, calls } = install();
    expect(calls).toContain("npm ci --no-audit --no-fund");
    const aptInstall = /^apt-get -o DPkg::Lock::Timeout=\d+ install /;
    expect(calls.some((c) => aptInstall.test(c) && /\bnodejs\b/.test(c))).toBe(true);
    expect(calls.some((c) => aptInstall.test(c) && /\bcaddy\b/.test(c))).toBe(true);
    expect(calls.some((c) => /^useradd --system .*smtpsink$/.test(c))).toBe(true);
    expect(calls).toContain("usermod -a -G tun azureuser");
    expect(calls).toContain("systemctl daemon-reload");
    expect(calls).toContain("systemctl reload ssh.service");
    for (const unit of ["caddy.service", "smtpsink.service", "tun-janitor.timer"]) {
      expect(calls).toContain(`systemctl enable --quiet ${unit}`);
      expect(calls).toContain(`systemctl start ${unit}`);
    }
    expect(output).toMatch(/\[install\] done: \d+ change\(s\)/);

    const files = snapshot();
    for (const f of [
      "etc/systemd/system/smtpsink.service",
      "etc/systemd/system/tun-janitor.service",
      "etc/systemd/system/tun-janitor.timer",
      "etc/systemd/system/caddy.service.d/tun.conf",
      "etc/ssh/sshd_config.d/60-tun.conf",
      "opt/tun/cli/dist/cli/main.js",
      "usr/local/bin/tun",
    ]) {
      expect(files.has(f), f).toBe(true);
    }
    expect(readFileSync(join(root, "etc/systemd/system/smtpsink.service"), "utf8")).toBe(
      readFileSync(join(REPO, "systemd/smtpsink.service"), "utf8"),
    );
    const caddy = JSON.parse(readFileSync(join(root, "etc/caddy/tun.json"), "utf8"));
    expect(caddy.apps.tls.automation.policies[0].issuers[0].email).toBe("ops@example.com");
    expect(readFileSync(join(root, "etc/smtpsink/sink.env"), "utf8")).toMatch(
      /^TUN_SINK_DOMAIN=tun\.example\.com$/m,
    );
    const janitorEnv = readFileSync(join(root, "etc/tun/janitor.env"), "utf8");
    expect(janitorEnv).toMatch(/^AZURE_CLIENT_ID=11111111-2222-3333-4444-555555555555$/m);
    expect(janitorEnv).toMatch(/^TUN_AZURE_NSG=tun-nsg$/m);
    // Secrets-bearing env files are root-only.
    expect(files.get("etc/tun/janitor.env")).toMatch(/^100600 /);
    expect(files.get("etc/smtpsink/sink.env")).toMatch(/^100600 /);
  });

  it("changes nothing when run a second time", () => {
    install();
    const before = snapshot();
    const { output, calls } = install();
    expect(mutations(calls)).toEqual([]);
    expect(snapshot()).toEqual(before);
    expect(output.trim()).toBe("[install] nothing to change");
  });

  it("after a settings change, rewrites only what depends on it and rebuilds nothing", () => {
    install();
    // Caddy's autosave would otherwise win over the new base config at restart.
    const autosave = join(root, "var/lib/caddy/.config/caddy/autosave.json");
    mkdirSync(join(autosave, ".."), { recursive: true });
    writeFileSync(autosave, "{}");
    const { output, calls } = install({ ACME_EMAIL: "new@example.com" });
    expect(mutations(calls)).toEqual(["systemctl restart caddy.service"]);
    expect(output).toContain("[install] changed: wrote /etc/caddy/tun.json");
    expect(output).not.toContain("built");
    expect(() => statSync(autosave)).toThrow();
    expect(install({ ACME_EMAIL: "new@example.com" }).output.trim()).toBe("[install] nothing to change");
  });

  it("rebuilds and restarts the sink when the project sources change", () => {
    install();
    writeFileSync(join(src, "package.json"), readFileSync(join(src, "package.json"), "utf8") + "\n");
    const { calls } = install();
    expect(calls).toContain("npm ci --no-audit --no-fund");
    expect(calls).toContain("systemctl restart smtpsink.service");
    expect(calls).not.toContain("systemctl restart caddy.service");
  });

  it("builds in place when run from /opt/tun itself (the cloud-init clone), and is idempotent there too", () => {
    // The checkout cloud-init makes: the project cloned straight into /opt/tun.
    cpSync(src, join(root, "opt/tun"), { recursive: true });
    const inPlace = join(root, "opt/tun/infra/install.sh");
    const run = (): { output: string; calls: string[] } => {
      writeFileSync(join(state, "calls.log"), "");
      const r = spawnSync("bash", [inPlace], {
        encoding: "utf8",
        env: { PATH: `${bin}:/usr/bin:/bin`, ROOT: root, FAKE_STATE: state },
      });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      return {
        output: r.stdout,
        calls: readFileSync(join(state, "calls.log"), "utf8").split("\n").filter(Boolean),
      };
    };
    const first = run();
    expect(first.calls).toContain("npm ci --no-audit --no-fund");
    // Built where it lies: the tree was not replaced by a copy (the build's extra file is still there).
    expect(readFileSync(join(root, "opt/tun/build-info.txt"), "utf8")).toBe("built\n");
    const before = snapshot();
    const second = run();
    expect(mutations(second.calls)).toEqual([]);
    expect(snapshot()).toEqual(before);
    expect(second.output.trim()).toBe("[install] nothing to change");
  });

  it("keeps an admin's edits to sink.env", () => {
    install();
    const sinkEnv = join(root, "etc/smtpsink/sink.env");
    writeFileSync(sinkEnv, "TUN_SINK_DOMAIN=mail.example.org\n", { mode: 0o600 });
    expect(install().output.trim()).toBe("[install] nothing to change");
    expect(readFileSync(sinkEnv, "utf8")).toBe("TUN_SINK_DOMAIN=mail.example.org\n");
  });

  it("refuses an ACME_EMAIL that would break the JSON config, naming it", () => {
    const r = spawnSync("bash", [join(src, "infra/install.sh")], {
      encoding: "utf8",
      env: { PATH: `${bin}:/usr/bin:/bin`, ROOT: root, FAKE_STATE: state, ACME_EMAIL: 'a"b@example.com' },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ACME_EMAIL "a"b@example.com" is not an email address/);
  });
});
