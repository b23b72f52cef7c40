// Public entry of @tunmail/sink: start a sink in-process, e.g. from a Vitest or
// Playwright globalSetup. Defaults suit a test suite: free ports, a database
// that lives only as long as the sink, and no log output.
import { MEMORY_DB, resolveSinkConfig, type SinkConfig, type SinkFlagValues } from "./config.js";
import { startSink as runSink } from "./sink.js";

export { resolveSinkConfig, SinkConfigError, SINK_FLAGS, MEMORY_DB } from "./config.js";
export type { SinkConfig, SinkFlag, SinkFlagValues } from "./config.js";
export { runSink };
export type { RunningSink } from "./sink.js";

export interface StartSinkOptions {
  /** SMTP listener, `HOST:PORT`. Default `127.0.0.1:0` (a free port). */
  smtp?: string;
  /** HTTP API, stream and web UI listener, `HOST:PORT`. Default `127.0.0.1:0` (a free port). */
  http?: string;
  /** SQLite file; default `:memory:` (removed when the sink stops). */
  db?: string;
  /** Print the sink's event lines to stdout (as `tun sink` does). Default false. */
  log?: boolean;
  /**
   * Any other `tun sink` flag by its name, e.g. `{ "max-message-size": "25MiB", domain: ["example.test"] }`.
   * TUN_SINK_* environment variables are not read: a suite's sink is configured by its code alone.
   */
  flags?: SinkFlagValues;
}

export interface StartedSink {
  /** Where to send mail: point the app under test (or nodemailer) here. */
  smtp: { host: string; port: number };
  /** Base URL of the HTTP API, e.g. for `new SinkClient(url)`. */
  url: string;
  /** Stops SMTP, lets messages in flight commit, closes HTTP and the database. Safe to call twice. */
  close(): Promise<void>;
}

export async function startSink(options: StartSinkOptions = {}): Promise<StartedSink> {
  const flags: SinkFlagValues = {
    ...options.flags,
    smtp: options.smtp ?? "127.0.0.1:0",
    http: options.http ?? "127.0.0.1:0",
    db: options.db ?? MEMORY_DB,
  };
  const config: SinkConfig = Object.freeze({ ...resolveSinkConfig(flags, {}), quiet: !options.log });
  const sink = await runSink(config);
  return {
    smtp: { host: sink.smtp.host, port: sink.smtp.port },
    url: sink.url,
    close: () => sink.close(),
  };
}
