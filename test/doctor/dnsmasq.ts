// A real DNS server for the doctor's DNS checks: Debian's dnsmasq on a
// loopback port, answering only what the test gives it (no upstream, no
// /etc/hosts), run in the foreground as this test's child.
import { spawn } from "node:child_process";
import { Resolver } from "node:dns/promises";
import { freePort, stopChild } from "../helpers/sshd.js";
import { waitUntil } from "../helpers/poll.js";

const DNSMASQ = "/usr/sbin/dnsmasq";
const START_ATTEMPTS = 3;

export interface TestDns {
  /** "127.0.0.1:PORT" for `tun doctor --resolver`. */
  server: string;
  stop(): Promise<void>;
}

/**
 * `addresses`: domain → IPv4 (dnsmasq's --address: the domain and every name under it);
 * `mx`: name → exchange (preference 10).
 */
export async function startDns(opts: {
  addresses: Record<string, string>;
  mx?: Record<string, string>;
}): Promise<TestDns> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const args = [
      "--no-daemon",
      `--port=${port}`,
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      "--no-resolv",
      "--no-hosts",
      "--cache-size=0",
      ...Object.entries(opts.addresses).map(([d, ip]) => `--address=/${d}/${ip}`),
      ...Object.entries(opts.mx ?? {}).map(([name, exchange]) => `--mx-host=${name},${exchange},10`),
    ];
    const child = spawn(DNSMASQ, args, { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    const server = `127.0.0.1:${port}`;
    const resolver = new Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([server]);
    const probe = Object.keys(opts.addresses)[0]!;
    try {
      await waitUntil(
        "dnsmasq to answer",
        async () =>
          child.exitCode !== null ||
          (await resolver.resolve4(probe).then(
            () => true,
            () => false,
          )),
        10_000,
      );
    } catch (err) {
      await stopChild(child);
      throw err;
    }
    if (child.exitCode !== null) {
      if (attempt < START_ATTEMPTS && /in use/i.test(log)) continue;
      throw new Error(`dnsmasq did not start:\n${log}`);
    }
    return { server, stop: () => stopChild(child) };
  }
}
