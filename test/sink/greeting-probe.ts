// Measures how long a new SMTP client waits for its greeting, over and over,
// while something else loads the sink: the SMTP thread's responsiveness. The
// probe runs in a child process of its own, so the test's own work (receiving
// and hashing megabytes, vitest) does not count as the sink's delay.
import { spawn } from "node:child_process";

export interface GreetingProbe {
  /** Stops probing; resolves with every greeting latency measured (ms). */
  stop(): Promise<number[]>;
}

/** Connects, times connect → first reply line, quits; again until its stdin closes; then prints the times as JSON. */
const PROBE_SOURCE = `
import { connect } from "node:net";
const port = Number(process.argv[1]);
const latencies = [];
let running = true;
process.stdin.on("end", () => (running = false)).resume();
while (running) {
  const t0 = performance.now();
  const line = await new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    s.setEncoding("latin1");
    s.once("data", (d) => { s.end("QUIT\\r\\n"); resolve(d); });
    s.once("error", reject);
  });
  latencies.push(performance.now() - t0);
  if (!line.startsWith("220")) throw new Error("greeting was " + line);
}
process.stdout.write(JSON.stringify(latencies));
`;

/** Starts probing the SMTP port from a child process. */
export function probeGreetings(port: number): GreetingProbe {
  const child = spawn(process.execPath, ["--input-type=module", "-e", PROBE_SOURCE, String(port)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return {
    stop: async () => {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`the greeting probe exited with code ${code}`);
      return JSON.parse(out) as number[];
    },
  };
}
