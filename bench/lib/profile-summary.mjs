// Top self-time costs of a V8 .cpuprofile (from `node --cpu-prof`), grouped
// by function and file. Usable alone: node bench/lib/profile-summary.mjs FILE [N]
import { readFileSync } from "node:fs";

export function summarizeProfile(path, top = 25) {
  const prof = JSON.parse(readFileSync(path, "utf8"));
  const byNode = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  // timeDeltas[i] is the time since the previous sample; charge it to sample i.
  for (let i = 0; i < prof.samples.length; i++) {
    selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
  const groups = new Map();
  let total = 0;
  for (const [id, us] of selfUs) {
    const cf = byNode.get(id).callFrame;
    const file = cf.url.replace(/^file:\/\//, "").replace(/.*\/node_modules\//, "node_modules/");
    const key = `${cf.functionName || "(anonymous)"}  ${file ? `${file}:${cf.lineNumber + 1}` : ""}`.trim();
    groups.set(key, (groups.get(key) ?? 0) + us);
    total += us;
  }
  const rows = [...groups.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    totalMs: total / 1000,
    top: rows.map(([fn, us]) => ({ fn, ms: us / 1000, share: total ? us / total : 0 })),
  };
}

/** Self time summed per package / file area, the coarse picture of where CPU goes. */
export function summarizeByArea(path) {
  const prof = JSON.parse(readFileSync(path, "utf8"));
  const byNode = new Map(prof.nodes.map((n) => [n.id, n]));
  const areas = new Map();
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const url = byNode.get(prof.samples[i]).callFrame.url;
    const dt = prof.timeDeltas[i] ?? 0;
    let area;
    const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (nm) area = nm[1];
    else if (url.startsWith("node:")) area = url;
    else if (url.includes("/dist/")) area = "tun " + url.replace(/.*\/dist\//, "").replace(/\/[^/]+$/, "");
    else area = byNode.get(prof.samples[i]).callFrame.functionName || "(native/idle)";
    areas.set(area, (areas.get(area) ?? 0) + dt);
    total += dt;
  }
  return [...areas.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([area, us]) => ({ area, ms: us / 1000, share: total ? us / total : 0 }));
}

/**
 * The longest stretches without an idle sample: how long the thread was busy
 * in one go (what a 250 waiting behind it waits), each with its top functions.
 * Stretches shorter than minMs are ignored.
 */
export function longestBusyStretches(path, count = 5, minMs = 20) {
  const prof = JSON.parse(readFileSync(path, "utf8"));
  const byNode = new Map(prof.nodes.map((n) => [n.id, n]));
  const stretches = [];
  let current = null;
  let t = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i] ?? 0;
    const cf = byNode.get(prof.samples[i]).callFrame;
    if (cf.functionName === "(idle)") {
      if (current && current.end - current.start >= minMs * 1000) stretches.push(current);
      current = null;
      continue;
    }
    current ??= { start: t, end: t, fns: new Map() };
    const key =
      `${cf.functionName || "(anonymous)"} ${cf.url.replace(/^.*?\/(node_modules|dist)\//, "$1/")}`.trim();
    current.fns.set(key, (current.fns.get(key) ?? 0) + (t - current.end));
    current.end = t;
  }
  if (current && current.end - current.start >= minMs * 1000) stretches.push(current);
  return stretches
    .sort((a, b) => b.end - b.start - (a.end - a.start))
    .slice(0, count)
    .map((x) => ({
      atMs: (x.start - prof.startTime) / 1000,
      ms: (x.end - x.start) / 1000,
      top: [...x.fns.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4)
        .map(([fn, us]) => `${fn} ${(us / 1000).toFixed(0)} ms`),
    }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  const n = Number(process.argv[3] ?? 25);
  const { totalMs, top } = summarizeProfile(file, n);
  console.log(`total sampled ${totalMs.toFixed(0)} ms`);
  for (const r of top)
    console.log(`${(r.share * 100).toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.fn}`);
  console.log("\nlongest busy stretches:");
  for (const b of longestBusyStretches(file)) {
    console.log(`${b.ms.toFixed(0).padStart(6)} ms at +${b.atMs.toFixed(0)} ms: ${b.top.join(", ")}`);
  }
  console.log("\nby area:");
  for (const r of summarizeByArea(file).slice(0, 20)) {
    console.log(`${(r.share * 100).toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.area}`);
  }
}
