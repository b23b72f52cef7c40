// smtpsink.service's command line and privilege model, run for real: the
// unit's ExecStart (the real `tun sink` from dist/) under the unit's identity
// rules (a non-root user, CAP_NET_BIND_SERVICE as the only capability in the
// ambient and bounding sets, no new privileges; applied with setpriv), binding a
// privileged port, storing a message in a 0700 state directory it owns, and
// stopping on SIGTERM well within TimeoutStopSec.
//
// The unit's SystemCallFilter= is emulated too (when strace is installed): every
// system call the filter would refuse is answered EPERM by strace's fault
// injection, as SystemCallErrorNumber=EPERM makes the kernel do, and the test
// lists the refused calls the sink attempted.
//
// Not covered (needs systemd as PID 1, which these machines do not have): the
// rest of the sandbox (ProtectSystem, namespaces, cgroup limits). Those are
// checked statically by systemd-analyze in systemd.test.ts.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { chownSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nodemailer from "nodemailer";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_SHUTDOWN_GRACE_MS } from "../../sink/config.js";
import { parseUnitFile, value, values } from "./unit-file.js";
import {
  childPid,
  confinedCommand,
  hasStrace,
  refusedCallsAttempted,
  unitEnvironment,
} from "./unit-sandbox.js";

const REPO = join(import.meta.dirname, "..", "..");
const UNIT = parseUnitFile(join(REPO, "systemd/smtpsink.service"));
const CLI = join(REPO, "cli/dist/cli/main.js");
/** The account systemd would run the sink as stands in for `smtpsink` here. */
const NOBODY = { uid: 65534, gid: 65534, name: "nobody" };
const STARTUP_DEADLINE_MS = 20_000;
/** Privileged ports tried for the SMTP listener (the unit binds 25; that may be taken here). */
const PRIVILEGED_PORTS = { first: 600, last: 1000 };

function timeoutStopMs(): number {
  const m = /^(\d+)s$/.exec(value(UNIT, "Service", "TimeoutStopSec"));
  if (!m) throw new Error("TimeoutStopSec is not in seconds");
  return Number(m[1]) * 1000;
}

async function freePrivilegedPort(): Promise<number> {
  for (let port = PRIVILEGED_PORTS.first; port <= PRIVILEGED_PORTS.last; port++) {
    const srv = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (ok) {
      srv.close();
      await once(srv, "close");
      return port;
    }
  }
  throw new Error(`no free port in ${PRIVILEGED_PORTS.first}-${PRIVILEGED_PORTS.last} on 127.0.0.1`);
}

describe("smtpsink.service's ExecStart under its privilege model", () => {
  let stateDir: string;
  let child: ChildProcess | undefined;

  beforeEach(() => {
    // Like StateDirectory=smtpsink with StateDirectoryMode=0700.
    stateDir = mkdtempSync(join(tmpdir(), "tun-smtpsink-state-"));
    chownSync(stateDir, NOBODY.uid, NOBODY.gid);
  });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
    rmSync(stateDir, { recursive: true, force: true });
  });

  /** The unit's ExecStart with only host-specific parts swapped; checks the rest verbatim. */
  function execStart(smtpPort: number): string[] {
    const argv = value(UNIT, "Service", "ExecStart").split(" ");
    expect(argv).toEqual([
      "/usr/bin/node",
      "/opt/tun/cli/dist/cli/main.js",
      "sink",
      "--smtp",
      "0.0.0.0:25",
      "--http",
      "127.0.0.1:8025",
      "--db",
      "/var/lib/smtpsink/sink.db",
    ]);
    return [
      process.execPath,
      CLI,
      "sink",
      "--smtp",
      `127.0.0.1:${smtpPort}`,
      "--http",
      "127.0.0.1:0",
      "--db",
      join(stateDir, "sink.db"),
    ];
  }

  /** `seccompLog`: also emulate the unit's system call filter, logging refused calls there. */
  function start(argv: string[], capabilities: "unit" | "none", seccompLog?: string): ChildProcess {
    expect(values(UNIT, "Service", "AmbientCapabilities")).toEqual(["CAP_NET_BIND_SERVICE"]);
    expect(values(UNIT, "Service", "CapabilityBoundingSet")).toEqual(["CAP_NET_BIND_SERVICE"]);
    const [cmd, ...args] = confinedCommand(argv, {
      uid: NOBODY.uid,
      gid: NOBODY.gid,
      capabilities: capabilities === "unit" ? ["net_bind_service"] : [],
      ...(seccompLog ? { seccompLog: { unit: UNIT, file: seccompLog } } : {}),
    });
    return spawn(cmd!, args, {
      cwd: stateDir,
      env: {
        PATH: "/usr/bin:/bin",
        HOME: stateDir,
        ...unitEnvironment(UNIT),
        // What install.sh puts in /etc/smtpsink/sink.env.
        TUN_SINK_DOMAIN: "tun.example.com",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
  }

  async function waitForLine(
    proc: ChildProcess,
    pattern: RegExp,
    output: { text: string },
  ): Promise<RegExpMatchArray> {
    const deadline = Date.now() + STARTUP_DEADLINE_MS;
    for (;;) {
      const m = pattern.exec(output.text);
      if (m) return m;
      if (proc.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no line matching ${pattern} (exit ${proc.exitCode}):\n${output.text}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it("is in place: setpriv and the built CLI", () => {
    expect(spawnSync("setpriv", ["--version"]).status).toBe(0);
    expect(existsSync(CLI), `${CLI} missing: run npm run build`).toBe(true);
  });

  /** Starts the sink as the unit would, sends one message, checks it is stored, stops it with SIGTERM. */
  async function serveOneMessageAndStop(seccompLog?: string): Promise<void> {
    const port = await freePrivilegedPort();
    const proc = start(execStart(port), "unit", seccompLog);
    child = proc;
    const output = { text: "" };
    proc.stdout!.on("data", (d: Buffer) => (output.text += d.toString()));
    proc.stderr!.on("data", (d: Buffer) => (output.text += d.toString()));

    await waitForLine(
      proc,
      new RegExp(`^\\[sink\\] smtp listening on 127\\.0\\.0\\.1:${port}$`, "m"),
      output,
    );
    const http = await waitForLine(proc, /^\[sink\] http listening on (http:\/\/127\.0\.0\.1:\d+)$/m, output);

    const transport = nodemailer.createTransport({ host: "127.0.0.1", port, secure: false, ignoreTLS: true });
    await transport.sendMail({
      from: "app@example.org",
      to: "someone@api.tun.example.com",
      subject: "under the unit's privileges",
      text: "hello",
    });
    const list = (await (await fetch(`${http[1]}/api/v1/messages`)).json()) as {
      messages: { subject: string }[];
    };
    expect(list.messages.map((m) => m.subject)).toEqual(["under the unit's privileges"]);
    // The database belongs to the sink's user, inside its state directory.
    expect(statSync(join(stateDir, "sink.db")).uid).toBe(NOBODY.uid);

    const stopAllowance = timeoutStopMs();
    expect(stopAllowance).toBeGreaterThan(DEFAULT_SHUTDOWN_GRACE_MS);
    const started = Date.now();
    // Under strace the sink is strace's child; systemd would signal the sink itself.
    const sinkPid = seccompLog ? childPid(proc.pid!) : proc.pid!;
    process.kill(sinkPid, "SIGTERM");
    const [code] = (await once(proc, "exit")) as [number | null];
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(stopAllowance);
    expect(output.text).toMatch(/^\[sink\] SIGTERM: shutting down$/m);
  }

  it("binds a privileged port as nobody with CAP_NET_BIND_SERVICE only, stores mail, stops on SIGTERM in time", async () => {
    await serveOneMessageAndStop();
  });

  it.skipIf(!hasStrace)(
    "does all that with the unit's system call filter applied, attempting no refused call (needs strace)",
    async () => {
      const logDir = mkdtempSync(join(tmpdir(), "tun-smtpsink-seccomp-"));
      try {
        chownSync(logDir, NOBODY.uid, NOBODY.gid);
        const log = join(logDir, "strace.log");
        await serveOneMessageAndStop(log);
        expect(refusedCallsAttempted(log)).toEqual([]);
      } finally {
        rmSync(logDir, { recursive: true, force: true });
      }
    },
  );

  it("cannot bind it without the capability (so the check above can fail)", async () => {
    const port = await freePrivilegedPort();
    const proc = start(execStart(port), "none");
    child = proc;
    let stderr = "";
    proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(proc, "exit")) as [number | null];
    expect(code).not.toBe(0);
    expect(stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}`));
  });
});
