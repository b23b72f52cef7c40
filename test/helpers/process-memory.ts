// Memory of a process as Linux reports it, for tests that bound a sink's footprint.
import { readFileSync } from "node:fs";

/** VmRSS / VmHWM of a process in KiB, from /proc. */
export function procMemoryKiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}
