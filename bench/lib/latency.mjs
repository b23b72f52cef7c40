// Scenario E: latency under a steady background load. smtp-source keeps
// ~500 msgs/s going (connections reused, random pauses so sessions do not
// fire in lockstep); meanwhile a probe client sends one message at a time and
// timestamps the 250. For our sink we also time, per probe:
//   stream: 250 -> the probe's frame at the live subscriber (negative when the
//           frame beat the 250 to the harness)
//   wait:   250 -> the answer of a /api/v1/wait request issued before sending
// The SMTP round trip (end of DATA -> 250) is measured for every system.
/* global AbortSignal -- Node 20 global, not in the shared eslint globals list */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { runSmtpSource } from "./load.mjs";
import { openProbe } from "./smtp-probe.mjs";
import { percentile } from "./stats.mjs";
import { startWithSubscriber } from "./throughput.mjs";

const PROBE_DOMAIN = "probe.bench.test";
/** Pause between probes, so probes are a small share of the load. */
const PROBE_INTERVAL_MS = 20;
/** How long a probe's frame or wait answer may take before it counts as lost. */
const PROBE_RESULT_TIMEOUT_MS = 10_000;
/**
 * Background sessions: each pauses 0–1 s at random (`-R 1`, mean 0.5 s) between
 * messages, so ~2 msgs/s each; a few over 250 make up for the service time.
 */
const BACKGROUND_SESSIONS = 280;
const BACKGROUND_PAUSE_ARGS = ["-R", "1"];
const BACKGROUND_MESSAGE_BYTES = 10240;
export function describeLatencyLoad({ rate, durationS }) {
  return (
    `background \`smtp-source -d -s ${BACKGROUND_SESSIONS} ${BACKGROUND_PAUSE_ARGS.join(" ")} -l ${BACKGROUND_MESSAGE_BYTES}\` ` +
    `aiming at ${rate} msgs/s for ${durationS} s; probes every ${PROBE_INTERVAL_MS} ms on their own connection`
  );
}

/** Lets the background reach its steady rate before probing. */
const WARMUP_MS = 1000;

export async function latencyRun(ctx, system, runIndex, workDir) {
  const { sys, sub } = await startWithSubscriber(ctx, system, workDir);
  const { durationS, rate } = ctx.sizes.latency;
  const result = { system, ok: true, probes: 0, lost: { stream: 0, wait: 0 } };
  const smtpRtt = [];
  const stream = [];
  const wait = [];
  /** End of DATA -> frame: what a test watching the stream waits after its mailer finished sending. */
  const streamFromData = [];
  let probe = null;
  try {
    const background = runSmtpSource({
      port: sys.smtpPort,
      sessions: BACKGROUND_SESSIONS,
      length: BACKGROUND_MESSAGE_BYTES,
      messages: Math.round(rate * durationS),
      reuse: true,
      extraArgs: BACKGROUND_PAUSE_ARGS,
      timeoutMs: ctx.loadTimeoutMs,
    });
    let bgDone = false;
    background.then(() => (bgDone = true));
    await sleep(WARMUP_MS);
    probe = await openProbe(sys.smtpPort);
    const pendingChecks = [];
    for (let i = 0; !bgDone; i++) {
      const to = `p${runIndex}-${i}@${PROBE_DOMAIN}`;
      const waitAnswer =
        system === "tun"
          ? fetch(`${sys.httpUrl}/api/v1/wait?to=${encodeURIComponent(to)}&timeout=30`, {
              signal: AbortSignal.timeout(PROBE_RESULT_TIMEOUT_MS),
            })
              .then((r) => r.json().then(() => (r.ok ? performance.now() : null)))
              .catch(() => null)
          : null;
      const sent = await probe.send({
        from: `probe@${PROBE_DOMAIN}`,
        to,
        subject: `probe ${i}`,
        body: `latency probe ${i}\r\n`,
      });
      result.probes++;
      smtpRtt.push(sent.ackAt - sent.sentAt);
      if (system === "tun") {
        pendingChecks.push(
          Promise.all([sent.id ? sub.arrivalOf(sent.id, PROBE_RESULT_TIMEOUT_MS) : null, waitAnswer]).then(
            ([frameAt, waitAt]) => {
              if (frameAt === null) result.lost.stream++;
              else {
                stream.push(frameAt - sent.ackAt);
                streamFromData.push(frameAt - sent.sentAt);
              }
              if (waitAt === null) result.lost.wait++;
              else wait.push(waitAt - sent.ackAt);
            },
          ),
        );
      }
      await sleep(PROBE_INTERVAL_MS);
    }
    const bg = await background;
    await Promise.all(pendingChecks);
    result.backgroundMsgsPerSec = bg.msgsPerSec;
    if (!bg.ok) {
      result.ok = false;
      result.error = `background load: ${bg.error}`;
    }
    if (system === "tun" && (result.lost.stream || result.lost.wait)) {
      result.warning = `no frame for ${result.lost.stream}, no wait answer for ${result.lost.wait} of ${result.probes} probes`;
    }
    result.peakRss = sys.peakRss();
  } catch (e) {
    result.ok = false;
    result.error = e.message;
  } finally {
    probe?.close();
    sub?.close();
    await sys.stop();
  }
  const pct = (v) => ({ p50: percentile(v, 50), p99: percentile(v, 99), n: v.length });
  result.smtpRttMs = pct(smtpRtt);
  if (system === "tun") {
    result.streamMs = pct(stream);
    result.streamFromDataMs = pct(streamFromData);
    result.waitMs = pct(wait);
  }
  return result;
}
