// CPU time a sink process tree has used, from /proc/PID/stat (all threads,
// plus children it has reaped). On a shared machine wall-clock throughput
// moves with everyone else's load; CPU time per message moves much less, so
// the harness reports both.
import { readFileSync, readdirSync } from "node:fs";

/** Linux USER_HZ: /proc reports CPU time in 1/100 s on every mainstream kernel. */
const CLOCK_TICKS_PER_S = 100;

function ticks(pid) {
  try {
    // Fields after the ")" closing the command name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return 0;
  }
}

function children(pid) {
  const out = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const list = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (list) out.push(...list.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

/** CPU milliseconds used so far by pid and its live descendants. */
export function cpuTimeMs(pid) {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...children(all[i]));
  return (all.reduce((sum, p) => sum + ticks(p), 0) * 1000) / CLOCK_TICKS_PER_S;
}
