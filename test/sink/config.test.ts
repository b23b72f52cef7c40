// Flag/env resolution of the sink configuration.
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { DEFAULT_MAX_MESSAGE_SIZE_BYTES, resolveSinkConfig, SinkConfigError } from "../../sink/config.js";

describe("resolveSinkConfig", () => {
  test("defaults", () => {
    const c = resolveSinkConfig({}, {});
    expect(c).toMatchObject({
      smtp: { host: "127.0.0.1", port: 2525 },
      http: { host: "127.0.0.1", port: 8025 },
      dbPath: join(homedir(), ".local", "share", "tun", "sink.db"),
      maxMessageSizeBytes: DEFAULT_MAX_MESSAGE_SIZE_BYTES,
      maxMessages: 50_000,
      maxAgeMs: 7 * 86_400_000,
      domains: [],
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(resolveSinkConfig({}, { XDG_DATA_HOME: "/data" }).dbPath).toBe("/data/tun/sink.db");
  });

  test("TUN_SINK_* env applies; flags override it", () => {
    const env = {
      TUN_SINK_SMTP: "0.0.0.0:25",
      TUN_SINK_HTTP: "[::1]:9000",
      TUN_SINK_DB: "rel/sink.db",
      TUN_SINK_MAX_MESSAGE_SIZE: "1MiB",
      TUN_SINK_MAX_MESSAGES: "10",
      TUN_SINK_MAX_AGE: "12h",
      TUN_SINK_DOMAIN: "a.test, @B.test",
      TUN_SINK_PARSE_WORKERS: "0",
    };
    const c = resolveSinkConfig({}, env);
    expect(c).toMatchObject({
      smtp: { host: "0.0.0.0", port: 25 },
      http: { host: "::1", port: 9000 },
      dbPath: resolve("rel/sink.db"),
      maxMessageSizeBytes: 1024 * 1024,
      maxMessages: 10,
      maxAgeMs: 12 * 3_600_000,
      domains: ["a.test", "b.test"],
      parseWorkers: 0,
    });
    const f = resolveSinkConfig({ smtp: "127.0.0.1:0", "max-messages": "0", domain: ["c.test"] }, env);
    expect(f).toMatchObject({ smtp: { port: 0 }, maxMessages: 0, domains: ["c.test"] });
  });

  test("a bad value names the flag, its variable and what is expected", () => {
    expect(() => resolveSinkConfig({}, { TUN_SINK_MAX_AGE: "soon" })).toThrow(SinkConfigError);
    expect(() => resolveSinkConfig({}, { TUN_SINK_MAX_AGE: "soon" })).toThrow(
      '--max-age (or TUN_SINK_MAX_AGE): expected a duration such as 7d, 12h or 90m (0 for no limit), got "soon"',
    );
    expect(() => resolveSinkConfig({ "max-message-size": "0" }, {})).toThrow(/--max-message-size/);
    expect(() => resolveSinkConfig({ "parse-workers": "100" }, {})).toThrow(/--parse-workers/);
  });
});
