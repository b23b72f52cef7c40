// Scenarios A–C (throughput) and D (memory): each run starts every system
// fresh, drives it with the same smtp-source command, and records msgs/s and
// the sink's peak resident set. Our sink also has one stream subscriber
// connected and must store (and stream) every message it acknowledged.
import { setTimeout as sleep } from "node:timers/promises";
import { runSmtpSource } from "./load.mjs";
import { health } from "./sink-api.mjs";
import { subscribe } from "./subscriber.mjs";

/** After the last 250, how long the subscriber may take to receive the rest. */
const STREAM_DRAIN_TIMEOUT_MS = 120_000;

/** Starts a system; for our sink also connects the stream subscriber. */
export async function startWithSubscriber(ctx, system, workDir, opts = {}) {
  const sys = await ctx.start(system, workDir, opts);
  let sub = null;
  if (system === "tun") {
    try {
      sub = await subscribe(sys.httpUrl);
    } catch (e) {
      await sys.stop();
      throw e;
    }
  }
  return { sys, sub };
}

export async function throughputRun(ctx, system, scenario, workDir) {
  const { sys, sub } = await startWithSubscriber(ctx, system, workDir);
  const result = { system, startupMs: sys.startupMs };
  try {
    if (scenario.measureIdle) {
      // D idle: the resident set once started, subscriber connected, settled.
      await sleep(ctx.sizes.idleSettleMs);
      result.idleRss = sys.currentRss();
    }
    const cpuBefore = sys.cpuTimeMs();
    const load = await runSmtpSource({ port: sys.smtpPort, ...scenario.load, timeoutMs: ctx.loadTimeoutMs });
    Object.assign(result, {
      ok: load.ok,
      msgsPerSec: load.msgsPerSec,
      wallMs: load.wallMs,
      error: load.error,
      command: load.command,
    });
    let drained = true;
    if (sub && load.ok) {
      const t0 = Date.now();
      drained = await sub.waitForFrames(scenario.load.messages, STREAM_DRAIN_TIMEOUT_MS);
      result.streamDrainMs = Date.now() - t0;
    }
    // CPU the sink spent on the load, including streaming it out (hence after the drain).
    if (load.ok) result.cpuMsPerMsg = (sys.cpuTimeMs() - cpuBefore) / scenario.load.messages;
    if (sub && load.ok) {
      result.streamFrames = sub.state.frames;
      result.streamCloses = sub.state.closes;
      if (!drained) result.warning = `subscriber got ${sub.state.frames}/${scenario.load.messages} frames`;
      const h = await health(sys.httpUrl);
      result.stored = h.messages;
      if (h.messages !== scenario.load.messages) {
        result.ok = false;
        result.error = `stored ${h.messages} of ${scenario.load.messages} acknowledged messages`;
      }
    }
    result.peakRss = sys.peakRss();
  } finally {
    sub?.close();
    await sys.stop();
  }
  return result;
}
