// A real OpenSSH sshd on 127.0.0.1 for tunnel tests: generated host and client
// keys in a temp dir, key-only login as the current user, TCP forwarding on.
//
// Forwarding: `tun up` needs both directions, so the config says
// `AllowTcpForwarding yes` (not `remote`): remote forwards (`forwardIn`) carry
// the public traffic, and local forwards (`forwardOut`, direct-tcpip) reach the
// VM-local Caddy admin API, Caddy's listener and the sink. `PermitOpen
// 127.0.0.1:*` limits local forwards to the VM's loopback, as recommended for
// the real VM in docs/tunnel.md, so the tests run the recommended policy.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

const SSHD = "/usr/sbin/sshd";
/** How long sshd may take to print "Server listening". */
const SSHD_READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export interface KeyPair {
  privatePath: string;
  /** "ssh-ed25519 AAAA… comment" */
  publicLine: string;
}

export interface TestSshd {
  host: string;
  port: number;
  user: string;
  dir: string;
  /** The host key sshd presents. */
  hostKey: KeyPair;
  /** An unencrypted client key in authorized_keys. */
  clientKey: KeyPair;
  /** A passphrase-protected client key (passphrase "secret") in authorized_keys. */
  encryptedClientKey: KeyPair;
  /** known_hosts line for this sshd (`[127.0.0.1]:PORT type key`), for `port` (default: the sshd's). */
  knownHostsLine(port?: number): string;
  /** stderr so far (sshd -e logs there). */
  log(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function generateKey(dir: string, name: string, passphrase = ""): KeyPair {
  const privatePath = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", privatePath]);
  return { privatePath, publicLine: readFileSync(privatePath + ".pub", "utf8").trim() };
}

export interface SshdOptions {
  /** Extra sshd_config lines, e.g. "ForceCommand …". */
  extraConfig?: string[];
}

export async function startSshd(opts: SshdOptions = {}): Promise<TestSshd> {
  try {
    // sshd refuses to start as root without its privilege-separation directory.
    mkdirSync("/run/sshd", { recursive: true });
  } catch {
    // Not root: sshd runs unprivileged (it can then only log in as this user, which is all the tests need).
  }
  const dir = mkdtempSync(join(tmpdir(), "tun-sshd-"));
  const hostKey = generateKey(dir, "host_ed25519");
  const clientKey = generateKey(dir, "client_ed25519");
  const encryptedClientKey = generateKey(dir, "client_encrypted", "secret");
  const authorized = join(dir, "authorized_keys");
  writeFileSync(authorized, `${clientKey.publicLine}\n${encryptedClientKey.publicLine}\n`);
  const user = userInfo().username;

  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const configPath = join(dir, "sshd_config");
    writeFileSync(
      configPath,
      [
        "ListenAddress 127.0.0.1",
        `Port ${port}`,
        `HostKey ${hostKey.privatePath}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${authorized}`,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "AllowTcpForwarding yes",
        "PermitOpen 127.0.0.1:*",
        "GatewayPorts no",
        "LogLevel VERBOSE",
        ...(opts.extraConfig ?? []),
        "",
      ].join("\n"),
    );
    const child = spawn(SSHD, ["-f", configPath, "-D", "-e"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const ready = await waitForListening(child, () => stderr);
    if (!ready) {
      if (attempt < 3 && /Address already in use/.test(stderr)) continue;
      throw new Error(`sshd did not start:\n${stderr}`);
    }
    return {
      host: "127.0.0.1",
      port,
      user,
      dir,
      hostKey,
      clientKey,
      encryptedClientKey,
      knownHostsLine: (p = port) => {
        const [type, key] = hostKey.publicLine.split(" ");
        return `[127.0.0.1]:${p} ${type} ${key}`;
      },
      log: () => stderr,
      stop: async () => {
        await stopChild(child);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

function waitForListening(child: ChildProcess, stderr: () => string): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(false), SSHD_READY_TIMEOUT_MS);
    const onData = () => {
      if (/Server listening on/.test(stderr())) done(true);
    };
    const onExit = () => done(false);
    function done(ok: boolean) {
      clearTimeout(timer);
      child.stderr!.off("data", onData);
      child.off("exit", onExit);
      resolve(ok);
    }
    child.stderr!.on("data", onData);
    child.once("exit", onExit);
    onData();
  });
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
