// The load generator every system gets: Postfix's smtp-source, a C client
// whose own cost is negligible next to any sink (it drives smtp-sink at
// ~10,000 msgs/s on two cores), so differences are the sinks'.
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { track } from "./children.mjs";

const SMTP_SOURCE_BIN = "/usr/sbin/smtp-source";
/** Envelope and HELO identity of the load; recipients are at this domain. */
export const LOAD_DOMAIN = "bench.test";

/**
 * Runs smtp-source to completion and times it.
 * @param {object} o
 * @param {number} o.port SMTP port on 127.0.0.1
 * @param {number} o.sessions parallel sessions (-s)
 * @param {number} o.length payload bytes per message (-l)
 * @param {number} o.messages message count (-m)
 * @param {boolean} [o.reuse] keep connections open between messages (-d)
 * @param {string[]} [o.extraArgs] e.g. ["-R", "1"] for random pauses
 * @param {number} o.timeoutMs kill it after this long
 */
export function runSmtpSource({
  port,
  sessions,
  length,
  messages,
  reuse = false,
  extraArgs = [],
  timeoutMs,
}) {
  const args = [
    "-s",
    String(sessions),
    "-l",
    String(length),
    "-m",
    String(messages),
    ...(reuse ? ["-d"] : []),
    "-M",
    LOAD_DOMAIN,
    "-f",
    `load@${LOAD_DOMAIN}`,
    "-t",
    `rcpt@${LOAD_DOMAIN}`,
    ...extraArgs,
    `127.0.0.1:${port}`,
  ];
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = track(spawn(SMTP_SOURCE_BIN, args, { stdio: ["ignore", "ignore", "pipe"] }));
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      const ok = code === 0 && !timedOut;
      resolve({
        ok,
        wallMs,
        msgsPerSec: ok ? (messages * 1000) / wallMs : null,
        command: `smtp-source ${args.join(" ")}`,
        error: ok
          ? null
          : timedOut
            ? `timed out after ${timeoutMs} ms`
            : `exit ${code}: ${stderr.trim().slice(-300)}`,
      });
    });
  });
}
