// Turns the raw runs into the summary (medians, min–max, ratios, targets with
// pass/miss) and writes results.json (everything) and results.md (tables).
import { writeFileSync } from "node:fs";
import { SYSTEM_LABELS } from "./systems.mjs";
import { spread } from "./stats.mjs";

const MB = 1024 * 1024;
export const THROUGHPUT_KEYS = ["A", "B", "C", "Cd"];

const okRuns = (runs = []) => runs.filter((r) => r.ok);
const pick = (runs, fn) =>
  okRuns(runs)
    .map(fn)
    .filter((v) => typeof v === "number");

export function summarize(results) {
  const s = { throughput: {}, cpuPerMsg: {}, peakRss: {}, idleRss: {}, latency: {} };
  for (const key of THROUGHPUT_KEYS) {
    const sc = results.throughput[key];
    if (!sc) continue;
    s.throughput[key] = {};
    s.peakRss[key] = {};
    s.cpuPerMsg[key] = {};
    for (const [sys, runs] of Object.entries(sc.runs)) {
      s.throughput[key][sys] = spread(pick(runs, (r) => r.msgsPerSec));
      s.cpuPerMsg[key][sys] = spread(pick(runs, (r) => r.cpuMsPerMsg));
      s.peakRss[key][sys] = spread(pick(runs, (r) => r.peakRss));
    }
  }
  // D: the highest peak any single process reached over A–C.
  s.peakRss.overAC = {};
  for (const sys of results.systems) {
    const peaks = THROUGHPUT_KEYS.flatMap((k) => pick(results.throughput[k]?.runs[sys], (r) => r.peakRss));
    s.peakRss.overAC[sys] = peaks.length ? Math.max(...peaks) : null;
  }
  for (const [sys, runs] of Object.entries(results.throughput.A?.runs ?? {})) {
    s.idleRss[sys] = spread(pick(runs, (r) => r.idleRss));
  }
  for (const [sys, runs] of Object.entries(results.latency?.runs ?? {})) {
    s.latency[sys] = {
      smtpRttP50: spread(pick(runs, (r) => r.smtpRttMs?.p50)),
      smtpRttP99: spread(pick(runs, (r) => r.smtpRttMs?.p99)),
      streamP50: spread(pick(runs, (r) => r.streamMs?.p50)),
      streamP99: spread(pick(runs, (r) => r.streamMs?.p99)),
      dataToStreamP50: spread(pick(runs, (r) => r.streamFromDataMs?.p50)),
      dataToStreamP99: spread(pick(runs, (r) => r.streamFromDataMs?.p99)),
      waitP50: spread(pick(runs, (r) => r.waitMs?.p50)),
      waitP99: spread(pick(runs, (r) => r.waitMs?.p99)),
      background: spread(pick(runs, (r) => r.backgroundMsgsPerSec)),
      peakRss: spread(pick(runs, (r) => r.peakRss)),
    };
  }
  s.targets = targets(results, s);
  return s;
}

function target(scenario, what, goal, value, unit, pass) {
  return {
    scenario,
    what,
    goal,
    value,
    unit,
    pass: value === null || value === undefined ? null : pass(value),
  };
}

function targets(results, s) {
  const tun = (key) => s.throughput[key]?.tun?.median ?? null;
  const ratioA =
    tun("A") !== null && s.throughput.A?.["smtp-sink"]?.median
      ? tun("A") / s.throughput.A["smtp-sink"].median
      : null;
  const lat = s.latency.tun ?? {};
  const f = results.scale;
  const g = results.cli;
  return [
    target("A", "new connection per message", "≥ 3,000 msgs/s", tun("A"), "msgs/s", (v) => v >= 3000),
    target("A", "ratio to smtp-sink", "≥ 0.3×", ratioA, "×", (v) => v >= 0.3),
    target("B", "connection reuse", "≥ 5,000 msgs/s", tun("B"), "msgs/s", (v) => v >= 5000),
    target("C", "1 MiB messages with -d", "≥ 150 msgs/s", tun("Cd"), "msgs/s", (v) => v >= 150),
    target("D", "peak RSS over A–C", "≤ 150 MB", nz(s.peakRss.overAC?.tun, MB), "MB", (v) => v <= 150),
    target("D", "idle RSS", "≤ 80 MB", nz(s.idleRss.tun?.median, MB), "MB", (v) => v <= 80),
    target("E", "250 → stream frame p50", "≤ 2 ms", lat.streamP50?.median ?? null, "ms", (v) => v <= 2),
    target("E", "250 → stream frame p99", "≤ 15 ms", lat.streamP99?.median ?? null, "ms", (v) => v <= 15),
    target("E", "250 → wait answer p99", "≤ 5 ms", lat.waitP99?.median ?? null, "ms", (v) => v <= 5),
    target(
      "F",
      "list by recipient p50",
      "≤ 10 ms",
      f?.queries?.byRecipient?.p50 ?? null,
      "ms",
      (v) => v <= 10,
    ),
    target("F", "full-text search p50", "≤ 50 ms", f?.queries?.fullText?.p50 ?? null, "ms", (v) => v <= 50),
    target(
      "F",
      "ingestion stall while pruning",
      "≤ 100 ms",
      f?.pruning ? (f.pruning.pruneCompleteMs === null ? Infinity : f.pruning.maxRttMs) : null,
      "ms",
      // A message refused (4xx) while pruning is worse than a stall.
      (v) => v <= 100 && !f.pruning.rejected,
    ),
    target("G", "tun --help wall", "≤ 150 ms", g?.help?.ms?.median ?? null, "ms", (v) => v <= 150),
    target("G", "tun mail ls wall", "≤ 150 ms", g?.mailLs?.ms?.median ?? null, "ms", (v) => v <= 150),
  ];
}

function decimals(t) {
  if (t.unit === "×") return 2;
  if (t.unit === "ms") return Math.abs(t.value) < 10 ? 2 : 1;
  return 0;
}

function nz(v, div) {
  return v === null || v === undefined ? null : v / div;
}

function num(v, digits = 0) {
  if (v === null || v === undefined) return "–";
  if (v === Infinity) return "∞";
  return v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function cell(sp, digits = 0, div = 1) {
  if (!sp || sp.median === null) return "–";
  const m = num(sp.median / div, digits);
  return sp.n > 1 ? `${m} (${num(sp.min / div, digits)}–${num(sp.max / div, digits)})` : m;
}

function ratio(a, b) {
  return a?.median && b?.median ? `${num(a.median / b.median, 2)}×` : "–";
}

function table(header, rows) {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

export function renderMarkdown(results) {
  const { meta, summary: s, systems } = results;
  const labels = systems.map((x) => SYSTEM_LABELS[x]);
  // tun's figure divided by each peer's; the SMTP-layer reference only when it ran
  const peers = [
    ["smtp-sink", "tun ÷ smtp-sink"],
    ["maildev", "tun ÷ MailDev"],
    ...(systems.includes("smtp-floor") ? [["smtp-floor", "tun ÷ SMTP layer alone"]] : []),
  ];
  const ratios = (row) => peers.map(([peer]) => ratio(row.tun, row[peer]));
  const out = [];
  out.push(
    `# Benchmark results${meta.quick ? " (quick smoke run: small sizes, 1 run, not comparable)" : ""}`,
  );
  out.push("");
  out.push(`- date: ${meta.date}`);
  out.push(
    `- machine: ${meta.cpu}, ${meta.cores} cores, ${num(meta.memGiB, 1)} GiB; load average ${meta.loadBefore} before, ${meta.loadAfter} after`,
  );
  out.push(
    `- software: Node ${meta.node}, Postfix ${meta.postfix}, MailDev ${meta.maildev}, tun at ${meta.commit}`,
  );
  out.push(`- runs per figure: ${meta.runs}; figures are median (min–max); command: \`${meta.command}\``);
  for (const [sys, why] of Object.entries(results.unavailable))
    out.push(`- not run: ${SYSTEM_LABELS[sys]}: ${why}`);
  out.push("");
  out.push("## Throughput (msgs/s)");
  out.push("");
  out.push(
    table(
      ["scenario", "load", ...labels, ...peers.map(([, title]) => title)],
      THROUGHPUT_KEYS.filter((k) => results.throughput[k]).map((k) => {
        const t = s.throughput[k];
        return [
          results.throughput[k].title,
          `\`${results.throughput[k].load}\``,
          ...systems.map((x) => cell(t[x])),
          ...ratios(t),
        ];
      }),
    ),
  );
  out.push("");
  out.push("## CPU time the sink process spent per message (ms; user + system, all threads)");
  out.push("");
  out.push(
    "Less sensitive than msgs/s to other load on the machine; 1000 ÷ this is the rate one free core would sustain.",
  );
  out.push("");
  out.push(
    table(
      ["scenario", ...labels, ...peers.map(([, title]) => title)],
      THROUGHPUT_KEYS.filter((k) => results.throughput[k]).map((k) => {
        const c = s.cpuPerMsg[k];
        return [results.throughput[k].title, ...systems.map((x) => cell(c[x], 3)), ...ratios(c)];
      }),
    ),
  );
  out.push("");
  out.push("## Memory (peak RSS, VmHWM, MB)");
  out.push("");
  const memRows = THROUGHPUT_KEYS.filter((k) => results.throughput[k]).map((k) => [
    results.throughput[k].title,
    ...systems.map((x) => cell(s.peakRss[k][x], 0, MB)),
  ]);
  memRows.push(["D: highest peak over A–C", ...systems.map((x) => num(nz(s.peakRss.overAC[x], MB)))]);
  if (results.throughput.A)
    memRows.push([
      "D: idle (RSS after start, subscriber connected)",
      ...systems.map((x) => cell(s.idleRss[x], 0, MB)),
    ]);
  out.push(table(["scenario", ...labels], memRows));
  if (results.latency) {
    out.push("");
    out.push(`## Latency under load (E, ms): ${results.latency.load}`);
    out.push("");
    const L = (x, k, d = 2) => cell(s.latency[x]?.[k], d);
    out.push(
      table(
        ["metric", ...labels],
        [
          ["background load reached (msgs/s)", ...systems.map((x) => L(x, "background", 0))],
          ["SMTP end of DATA → 250, p50", ...systems.map((x) => L(x, "smtpRttP50"))],
          ["SMTP end of DATA → 250, p99", ...systems.map((x) => L(x, "smtpRttP99"))],
          [
            "250 → stream frame at subscriber, p50",
            ...systems.map((x) => (x === "tun" ? L(x, "streamP50") : "n/a")),
          ],
          [
            "250 → stream frame at subscriber, p99",
            ...systems.map((x) => (x === "tun" ? L(x, "streamP99") : "n/a")),
          ],
          [
            "end of DATA → stream frame, p50",
            ...systems.map((x) => (x === "tun" ? L(x, "dataToStreamP50") : "n/a")),
          ],
          [
            "end of DATA → stream frame, p99",
            ...systems.map((x) => (x === "tun" ? L(x, "dataToStreamP99") : "n/a")),
          ],
          ["250 → /api/v1/wait answer, p50", ...systems.map((x) => (x === "tun" ? L(x, "waitP50") : "n/a"))],
          ["250 → /api/v1/wait answer, p99", ...systems.map((x) => (x === "tun" ? L(x, "waitP99") : "n/a"))],
          ["peak RSS (MB)", ...systems.map((x) => cell(s.latency[x]?.peakRss, 0, MB))],
        ],
      ),
    );
  }
  const f = results.scale;
  if (f) {
    out.push("");
    out.push(`## At scale (F, tun sink only): ${num(f.messages)} stored messages, prune ${num(f.prune)}`);
    out.push("");
    if (!f.ok) out.push(`F failed: ${f.error}`);
    const q = f.queries ?? {};
    const qr = (label, x) => [label, x ? `\`${x.path}\`` : "–", num(x?.p50, 1), num(x?.p99, 1), num(x?.hits)];
    out.push(
      table(
        ["query", "request", "p50 ms", "p99 ms", "matches"],
        [
          qr("list by recipient (20 matches)", q.byRecipient),
          qr("list by recipient (1 match, numbered envelope rcpt)", q.byRecipientOne),
          qr("full-text search (20 matches)", q.fullText),
          qr("newest page, no filter", q.newest),
        ],
      ),
    );
    out.push("");
    const p = f.pruning;
    out.push(
      `- fill rate: ${num(f.fillMsgsPerSec)} msgs/s (1 KiB messages, 20 sessions, -d); peak RSS while filling ${num(nz(f.fillPeakRss, MB))} MB`,
    );
    out.push(`- restart with --max-messages ${num(p?.limit)}: ready after ${num(f.pruneRestartMs)} ms`);
    if (p) {
      out.push(
        `- first message after the restart: 250 after ${num(p.firstRttMs, 1)} ms (worker start-up, cold code paths)`,
      );
      out.push(
        `- then, while pruning: ${num(p.probes)} probe messages, max 250 wait ${num(p.maxRttMs, 1)} ms, p99 ${num(p.p99RttMs, 1)} ms, ` +
          `longest gap between 250s ${num(p.maxGapMs, 1)} ms; store down to the limit after ` +
          `${p.pruneCompleteMs === null ? `never (count ${num(p.finalCount)} at the deadline)` : `${num(p.pruneCompleteMs)} ms`}` +
          (p.rejected ? `; **${num(p.rejected)} refused** (last: \`${p.lastRejection}\`)` : ""),
      );
    }
  }
  const g = results.cli;
  if (g) {
    out.push("");
    out.push("## CLI start (G, wall ms, spawn to exit)");
    out.push("");
    out.push(
      table(
        ["command", "median (min–max)", "note"],
        [g.node, g.help, g.mailLs].map((x) => [`\`${x.label}\``, cell(x.ms, 1), x.ok ? "" : x.error]),
      ),
    );
  }
  out.push("");
  out.push("## Targets (issue 7) for the tun sink");
  out.push("");
  out.push(
    table(
      ["scenario", "what", "target", "measured", "pass/miss"],
      s.targets.map((t) => [
        t.scenario,
        t.what,
        t.goal,
        t.value === null ? "–" : `${num(t.value, decimals(t))}${t.unit === "×" ? "" : " "}${t.unit}`,
        t.pass === null ? "not measured" : t.pass ? "pass" : "**miss**",
      ]),
    ),
  );
  if ((s.latency.tun?.streamP50?.median ?? 0) < 0) {
    out.push("");
    out.push(
      "Negative 250 → frame/answer times: the frame (and the `wait` answer) left before the 250 did, so these " +
        "targets hold by construction; the end of DATA → frame rows above show what a test waits.",
    );
  }
  const problems = results.problems ?? [];
  if (problems.length) {
    out.push("");
    out.push("## Failed runs and warnings");
    out.push("");
    for (const p of problems) out.push(`- ${p}`);
  }
  out.push("");
  return out.join("\n");
}

export function writeResults(results, dir) {
  writeFileSync(`${dir}/results.json`, JSON.stringify(results, null, 2) + "\n");
  writeFileSync(`${dir}/results.md`, renderMarkdown(results));
}
