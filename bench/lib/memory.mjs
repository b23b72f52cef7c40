// Memory of a sink process from /proc: peak (VmHWM) and current (VmRSS)
// resident set, summed over the process and its descendants so a sink that
// forks helpers is charged for them too (worker threads share the PID).
import { readFileSync, readdirSync } from "node:fs";

const KIB = 1024;

function statusField(pid, field) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) * KIB : 0;
  } catch {
    return 0; // process already gone
  }
}

function childrenOf(pid) {
  const out = [];
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const list = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (list) out.push(...list.split(/\s+/).map(Number));
    } catch {
      // thread exited between readdir and read
    }
  }
  return out;
}

function tree(pid) {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childrenOf(all[i]));
  return all;
}

/** Peak resident set (bytes) of the process tree rooted at pid. */
export function peakRss(pid) {
  return tree(pid).reduce((sum, p) => sum + statusField(p, "VmHWM"), 0);
}

/** Current resident set (bytes) of the process tree rooted at pid. */
export function currentRss(pid) {
  return tree(pid).reduce((sum, p) => sum + statusField(p, "VmRSS"), 0);
}
