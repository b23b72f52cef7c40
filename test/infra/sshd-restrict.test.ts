// infra/sshd-tun.conf and infra/tun-ssh-command in a real sshd: a member of
// the tunnel group gets the remote forward and the local forwards tun uses,
// the `tun logs` command, and nothing else (no shell, no other command, no
// other local forward). As in sshd.test.ts, `root` stands in for group `tun`,
// and the wrapper is the repository's copy. Local forwards may reach any port
// on the VM's loopback (tun probes other tunnels' upstream ports, which sshd
// picks) and no other host: 127.0.0.2 is loopback on Linux too, but another
// host name to sshd.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, connect, type AddressInfo, type Server } from "node:net";
import { join } from "node:path";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { journalCommand } from "../../cli/commands/logs.js";
import { waitUntil } from "../helpers/poll.js";
import { startSshd, type TestSshd } from "../helpers/sshd.js";

const REPO = join(import.meta.dirname, "..", "..");
const DROP_IN = join(REPO, "infra/sshd-tun.conf");
const WRAPPER = join(REPO, "infra/tun-ssh-command");
const REFUSAL = "this account may only forward ports for tun";

/** A loopback TCP server answering "hello from <name>" to each connection. */
async function greeter(name: string, host = "127.0.0.1"): Promise<Server> {
  const srv = createServer((s) => s.end(`hello from ${name}`));
  await new Promise<void>((r) => srv.listen(0, host, r));
  return srv;
}
const portOf = (srv: Server): number => (srv.address() as AddressInfo).port;

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let out = "";
    stream.on("data", (d: Buffer) => (out += d.toString()));
    stream.on("end", () => resolve(out));
    stream.on("close", () => resolve(out));
  });
}

describe("the tun group on a real sshd", () => {
  let sshd: TestSshd;
  let client: ssh2.Client;
  let admin: Server;
  let sink: Server;
  let other: Server;

  beforeAll(async () => {
    [admin, sink, other] = await Promise.all([
      greeter("admin"),
      greeter("sink"),
      greeter("other", "127.0.0.2"),
    ]);
    const shipped = readFileSync(DROP_IN, "utf8");
    const dropIn = shipped
      .replace(/^Match Group tun$/m, "Match Group root")
      .replace(/^(\s*ForceCommand) .*$/m, `$1 ${WRAPPER}`);
    expect(dropIn).not.toBe(shipped);
    sshd = await startSshd({ extraConfig: dropIn.split("\n") });
    client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.once("ready", resolve).once("error", reject);
      client.connect({
        host: sshd.host,
        port: sshd.port,
        username: sshd.user,
        privateKey: readFileSync(sshd.clientKey.privatePath),
      });
    });
  });
  afterAll(async () => {
    client?.end();
    await sshd?.stop();
    for (const s of [admin, sink, other]) s?.close();
  });

  function exec(command: string): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve, reject) => {
      client.exec(command, (err, ch) => {
        if (err) return reject(err);
        let code: number | null = null;
        ch.on("exit", (c: number | null) => (code = c));
        // ssh2 emits the exit status before the channel's close, but not always before its data ends
        const closed = new Promise((r) => ch.once("close", r));
        void Promise.all([readAll(ch), readAll(ch.stderr), closed]).then(([out, e]) =>
          resolve({ code, out, err: e }),
        );
      });
    });
  }

  function forwardOut(port: number, host = "127.0.0.1"): Promise<string> {
    return new Promise((resolve, reject) => {
      client.forwardOut("127.0.0.1", 0, host, port, (err, ch) => {
        if (err) return reject(err);
        void readAll(ch).then(resolve);
      });
    });
  }

  it("refuses an interactive shell, with or without a terminal", async () => {
    const withPty = await new Promise<string>((resolve) => {
      client.shell((err, ch) => {
        if (err) return resolve(`refused: ${err.message}`);
        void readAll(ch.stderr).then((e) => resolve(e));
        ch.end();
      });
    });
    expect(withPty).toMatch(/refused|this account may only/);
    const noPty = await new Promise<{ code: number | null; err: string }>((resolve, reject) => {
      client.shell(false, (err, ch) => {
        if (err) return reject(err);
        // the exit status can arrive after stderr has ended: wait for both
        const exited = new Promise<number | null>((res) => {
          ch.on("exit", (c: number | null) => res(c));
          ch.on("close", () => res(null)); // closed without an exit status: no code
        });
        void Promise.all([exited, readAll(ch.stderr)]).then(([code, err]) => resolve({ code, err }));
        ch.end("id; echo ran-a-shell\n");
      });
    });
    expect(noPty.code).toBe(1);
    expect(noPty.err).toContain(REFUSAL);
  });

  it("refuses any other command, including one that starts like tun logs", async () => {
    for (const cmd of [
      "id",
      "journalctl -u smtpsink --no-pager; id",
      "journalctl -u smtpsink --no-pager --since '$(id)'",
    ]) {
      const r = await exec(cmd);
      expect(r.code, cmd).toBe(1);
      expect(r.err, cmd).toContain(REFUSAL);
      expect(r.out, cmd).not.toMatch(/uid=/);
    }
  });

  it("runs the command `tun logs` sends", async () => {
    const r = await exec(journalCommand({ follow: false, lines: 5, since: "1 hour ago" }));
    expect(r.err).not.toContain(REFUSAL);
    expect(r.code).toBe(0); // journalctl ran (this machine has no journal: "-- No entries --")
  });

  it("gives a remote forward on loopback and the permitted local forwards, and refuses another", async () => {
    const port = await new Promise<number>((resolve, reject) =>
      client.forwardIn("127.0.0.1", 0, (err, p) => (err ? reject(err) : resolve(p))),
    );
    client.once("tcp connection", (_info, accept) => accept().end("through the tunnel"));
    const viaTunnel = await new Promise<string>((resolve, reject) => {
      const s = connect(port, "127.0.0.1");
      s.on("error", reject);
      void readAll(s).then(resolve);
    });
    expect(viaTunnel).toBe("through the tunnel");

    expect(await forwardOut(portOf(admin))).toBe("hello from admin");
    expect(await forwardOut(portOf(sink))).toBe("hello from sink");
    await expect(forwardOut(portOf(other), "127.0.0.2")).rejects.toThrow(/open fail/i);
    // refused by the policy, not by the target (which listens): sshd says so in its log
    await waitUntil(
      "sshd's log of the refusal",
      () =>
        sshd.log().includes(`to connect to host 127.0.0.2 port ${portOf(other)}, but the request was denied`),
      5_000,
    );
  });

  it("ships loopback-only local forwards and no terminal, agent or X11 (sshd -T)", () => {
    const main = join(sshd.dir, "sshd_config");
    const t = execFileSync("/usr/sbin/sshd", ["-T", "-f", main, "-C", "user=root,host=c,addr=127.0.0.1"], {
      encoding: "utf8",
    });
    const get = (k: string) => new RegExp(`^${k} (.*)$`, "m").exec(t)?.[1];
    expect(get("permittty")).toBe("no");
    expect(get("x11forwarding")).toBe("no");
    expect(get("allowagentforwarding")).toBe("no");
    expect(get("allowstreamlocalforwarding")).toBe("no");
    expect(get("permitopen")).toBe("127.0.0.1:* localhost:*");
    expect(readFileSync(DROP_IN, "utf8")).toMatch(/^\s*ForceCommand \/opt\/tun\/infra\/tun-ssh-command$/m);
  });
});
