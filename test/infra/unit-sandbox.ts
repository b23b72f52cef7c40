// Runs a unit's ExecStart the way systemd would confine it, as far as that is
// possible without systemd as PID 1: the unit's user model and capabilities via
// setpriv(1), and its SystemCallFilter= via strace's fault injection (each call
// the filter refuses is answered EPERM, as SystemCallErrorNumber=EPERM makes the
// kernel do). Namespaces, ProtectSystem= and cgroup limits are not applied.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { type UnitFile, values } from "./unit-file.js";

export const hasStrace = spawnSync("strace", ["-V"]).status === 0;

/** Environment= lines of a unit as one map (space-separated KEY=VALUE pairs). */
export function unitEnvironment(unit: UnitFile): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of values(unit, "Service", "Environment")) {
    for (const pair of line.split(/\s+/)) {
      const eq = pair.indexOf("=");
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

const expansions = new Map<string, Set<string>>();
/** A SystemCallFilter= entry (a call or an @group, nested groups too) as system call names. */
function expand(entry: string): Set<string> {
  if (!entry.startsWith("@")) return new Set([entry]);
  const cached = expansions.get(entry);
  if (cached) return cached;
  const r = spawnSync("systemd-analyze", ["syscall-filter", entry], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`systemd-analyze syscall-filter ${entry}: ${r.stderr}`);
  const names = new Set<string>();
  for (const m of r.stdout.matchAll(/^ {4}([@\w-]+)$/gm)) for (const n of expand(m[1]!)) names.add(n);
  expansions.set(entry, names);
  return names;
}

/** The system calls a unit's SystemCallFilter= lines refuse (allow-list, then ~ removals). */
export function refusedSyscalls(unit: UnitFile): string[] {
  const errno = values(unit, "Service", "SystemCallErrorNumber");
  if (errno.join() !== "EPERM")
    throw new Error(`emulation assumes SystemCallErrorNumber=EPERM, unit has ${errno}`);
  const allowed = new Set<string>();
  for (const line of values(unit, "Service", "SystemCallFilter")) {
    const deny = line.startsWith("~");
    for (const entry of line.replace(/^~/, "").split(/\s+/)) {
      for (const name of expand(entry)) {
        if (deny) allowed.delete(name);
        else allowed.add(name);
      }
    }
  }
  return [...expand("@known")].filter((name) => !allowed.has(name)).sort();
}

export interface Confinement {
  uid: number;
  gid: number;
  /** Capability names without CAP_, lower case (setpriv's spelling); [] for none. */
  capabilities: string[];
  /** Emulate the unit's SystemCallFilter= and log refused calls here (needs strace). */
  seccompLog?: { unit: UnitFile; file: string };
}

/** `setpriv … [strace …] argv…`: the command line that runs argv confined. */
export function confinedCommand(argv: string[], c: Confinement): string[] {
  const caps = ["-all", ...c.capabilities.map((cap) => `+${cap}`)].join(",");
  const cmd = [
    "setpriv",
    `--reuid=${c.uid}`,
    `--regid=${c.gid}`,
    "--clear-groups",
    `--inh-caps=${caps}`,
    ...(c.capabilities.length ? [`--ambient-caps=${caps}`] : []),
    `--bounding-set=${caps}`,
    "--no-new-privs",
    "--",
  ];
  if (c.seccompLog) {
    // `?name`: strace skips calls this architecture does not have.
    const refused = refusedSyscalls(c.seccompLog.unit)
      .map((name) => `?${name}`)
      .join(",");
    cmd.push("strace", "-f", "-qq", "-o", c.seccompLog.file, "-e", `trace=${refused}`);
    cmd.push("-e", `inject=${refused}:error=EPERM`);
  }
  return [...cmd, ...argv];
}

/** The refused calls the confined process attempted, from the strace log. */
export function refusedCallsAttempted(logFile: string): string[] {
  const calls = [...readFileSync(logFile, "utf8").matchAll(/^\d+ (\w+)\(.*\(INJECTED\)$/gm)].map(
    (m) => m[1]!,
  );
  return [...new Set(calls)].sort();
}

/** The one child of a process (strace's tracee, which systemd would signal directly). */
export function childPid(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/);
  if (children.length !== 1 || !children[0])
    throw new Error(`process ${pid} has children "${children.join(" ")}"`);
  return Number(children[0]);
}
