// Scenario F, our sink only: fill a store with N small messages through SMTP
// (the only interface the sink promises), time the queries a test suite makes
// against it, then lower --max-messages by P and restart, so the sink has P
// messages to prune while a probe keeps sending and times every 250.
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { LOAD_DOMAIN, runSmtpSource } from "./load.mjs";
import { health, timedGet } from "./sink-api.mjs";
import { openProbe } from "./smtp-probe.mjs";
import { percentile } from "./stats.mjs";
import { startWithSubscriber } from "./throughput.mjs";

const FILL_SESSIONS = 20;
const FILL_MESSAGE_BYTES = 1024;
/** Messages with a known recipient and a rare word, the needles the queries look for. */
const NEEDLES = 20;
const NEEDLE_TO = "needle@scale.bench.test";
const NEEDLE_WORD = "zanzibar";
const QUERY_REPEATS = 30;
const QUERY_MIN_REPEATS = 5;
/** Time one query series may take before it stops repeating (after QUERY_MIN_REPEATS). */
const QUERY_BUDGET_MS = 60_000;
/** Minimum fill deadline, and per-message allowance on top (bounded run, slow machine). */
const FILL_TIMEOUT_MIN_MS = 10 * 60_000;
const FILL_TIMEOUT_PER_MSG_MS = 5;
/** A restart that has to prune a big batch may take longer than a normal one. */
const PRUNE_STARTUP_TIMEOUT_MS = 10 * 60_000;
const HEALTH_POLL_MS = 200;
/** Probing continues this long after the prune is seen complete. */
const PRUNE_TRAILING_MS = 2000;

async function timeQuery(url, path) {
  await timedGet(url, path); // warm caches once, as a running suite would have
  const ms = [];
  let hits = null;
  const t0 = performance.now();
  for (let i = 0; i < QUERY_REPEATS; i++) {
    const r = await timedGet(url, path);
    ms.push(r.ms);
    hits = r.body.total ?? r.body.messages?.length ?? null;
    // A query that takes seconds says enough after a few repeats; keep the run bounded.
    if (i + 1 >= QUERY_MIN_REPEATS && performance.now() - t0 > QUERY_BUDGET_MS) break;
  }
  return { path, p50: percentile(ms, 50), p99: percentile(ms, 99), hits, repeats: ms.length };
}

export async function scaleRun(ctx, workDir) {
  const { messages: n, prune: p, pruneDeadlineS } = ctx.sizes.scale;
  const dbPath = `${workDir}/scale.db`;
  const result = { system: "tun", ok: true, messages: n, prune: p };
  let { sys, sub } = await startWithSubscriber(ctx, "tun", workDir, {
    dbPath,
    extraArgs: ["--max-messages", String(n * 2)],
  });
  try {
    const fill = await runSmtpSource({
      port: sys.smtpPort,
      sessions: FILL_SESSIONS,
      length: FILL_MESSAGE_BYTES,
      messages: n - NEEDLES,
      reuse: true,
      extraArgs: ["-N"], // numbered recipients: 1rcpt@…, 2rcpt@…
      timeoutMs: Math.max(FILL_TIMEOUT_MIN_MS, n * FILL_TIMEOUT_PER_MSG_MS),
    });
    if (!fill.ok) throw new Error(`fill: ${fill.error}`);
    result.fillMsgsPerSec = fill.msgsPerSec;
    const probe = await openProbe(sys.smtpPort);
    for (let i = 0; i < NEEDLES; i++) {
      await probe.send({
        from: `needles@${LOAD_DOMAIN}`,
        to: NEEDLE_TO,
        subject: `needle ${i}`,
        body: `the ${NEEDLE_WORD} code is ${i}\r\n`,
      });
    }
    probe.close();
    result.stored = (await health(sys.httpUrl)).messages;
    result.fillPeakRss = sys.peakRss();
    const someone = `${Math.ceil(n / 2)}rcpt@${LOAD_DOMAIN}`;
    result.queries = {
      byRecipient: await timeQuery(
        sys.httpUrl,
        `/api/v1/messages?to=${encodeURIComponent(NEEDLE_TO)}&limit=50`,
      ),
      byRecipientOne: await timeQuery(
        sys.httpUrl,
        `/api/v1/messages?to=${encodeURIComponent(someone)}&limit=50`,
      ),
      fullText: await timeQuery(sys.httpUrl, `/api/v1/messages?q=${NEEDLE_WORD}&limit=50`),
      newest: await timeQuery(sys.httpUrl, `/api/v1/messages?limit=50`),
    };

    sub?.close();
    await sys.stop();
    const limit = n - p;
    ({ sys, sub } = await startWithSubscriber(ctx, "tun", workDir, {
      dbPath,
      extraArgs: ["--max-messages", String(limit)],
      // `--profile --only F` profiles only this phase (ctx.pruneNodeArgs), not the long fill.
      nodeArgs: ctx.pruneNodeArgs ?? [],
      timeoutMs: PRUNE_STARTUP_TIMEOUT_MS,
    }));
    result.pruneRestartMs = sys.startupMs;
    result.pruning = await probeWhilePruning(sys, limit, pruneDeadlineS * 1000);
    result.peakRss = sys.peakRss();
  } catch (e) {
    result.ok = false;
    result.error = e.message;
  } finally {
    sub?.close();
    await sys.stop();
  }
  return result;
}

/** Sends probes back to back until the store is down to limit (plus a little), timing each 250. */
async function probeWhilePruning(sys, limit, deadlineMs) {
  const probe = await openProbe(sys.smtpPort);
  // The first message after a restart also pays for starting the parse worker and
  // compiling the insert path; it is reported apart so it is not taken for a prune stall.
  const first = await probe.send({
    from: `prune@${LOAD_DOMAIN}`,
    to: `first-after-restart@scale.bench.test`,
    subject: "first after restart",
    body: "warm-up\r\n",
  });
  const t0 = performance.now();
  const rtts = [];
  let maxGapMs = 0;
  let rejected = 0;
  let lastRejection = null;
  let lastAck = t0;
  let prunedAt = null;
  let lastCount = null;
  let stop = false;
  const poller = (async () => {
    while (!stop) {
      try {
        lastCount = (await health(sys.httpUrl)).messages;
        if (prunedAt === null && lastCount <= limit) prunedAt = performance.now();
      } catch {
        // the sink is busy; the probe records what that costs
      }
      await sleep(HEALTH_POLL_MS);
    }
  })();
  try {
    for (let i = 0; ; i++) {
      const now = performance.now();
      if (now - t0 > deadlineMs) break;
      if (prunedAt !== null && now - prunedAt > PRUNE_TRAILING_MS) break;
      const sent = await probe.send(
        {
          from: `prune@${LOAD_DOMAIN}`,
          to: `during-prune-${i}@scale.bench.test`,
          subject: `during prune ${i}`,
          body: "ingest while pruning\r\n",
        },
        { acceptRejection: true },
      );
      if (sent.code !== 250) {
        rejected++;
        lastRejection = sent.text;
      }
      rtts.push(sent.ackAt - sent.sentAt);
      maxGapMs = Math.max(maxGapMs, sent.ackAt - lastAck);
      lastAck = sent.ackAt;
    }
  } finally {
    stop = true;
    probe.close();
    await poller;
  }
  return {
    firstRttMs: first.ackAt - first.sentAt,
    probes: rtts.length,
    rejected,
    lastRejection,
    maxRttMs: rtts.length ? Math.max(...rtts) : null,
    p99RttMs: percentile(rtts, 99),
    maxGapMs,
    pruneCompleteMs: prunedAt === null ? null : prunedAt - t0,
    finalCount: lastCount,
    limit,
  };
}
