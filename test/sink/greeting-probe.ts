// Measures how long a new SMTP client waits for its greeting, over and over,
// while something else loads the sink: the SMTP thread's responsiveness.
import { SmtpWire } from "../helpers/smtp-wire.js";

export interface GreetingProbe {
  /** Stops probing; resolves with every greeting latency measured (ms). */
  stop(): Promise<number[]>;
}

/** Opens connections one after another until stopped, recording connect → 220 for each. */
export function probeGreetings(port: number): GreetingProbe {
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const w = await SmtpWire.open({ port });
      const hello = await w.reply(10_000);
      latencies.push(performance.now() - t0);
      if (hello.code !== 220) throw new Error(`greeting was ${hello.text}`);
      w.write("QUIT\r\n");
      w.close();
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return latencies;
    },
  };
}
