// Issue 11: the `tun sink` flags of the HTTP surface (--http-host, --cors, the
// caps) through the real binary and TUN_SINK_* variables, and log lines that
// carry no raw control bytes from a request.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { resolveSinkConfig } from "../../sink/config.js";
import { waitUntil } from "../helpers/poll.js";
import { spawnTestSink, type SpawnedSink } from "../helpers/sink.js";
import { rawRequest } from "./raw-http.js";

describe("tun sink --http-host --cors --max-waits", () => {
  let sink: SpawnedSink;
  beforeAll(async () => {
    sink = await spawnTestSink([
      "--http-host",
      "ui.example",
      "--http-host",
      "other.example:8443",
      "--cors",
      "https://app.example",
      "--max-waits",
      "1",
    ]);
  });
  afterAll(async () => {
    await sink?.stop();
  });

  test("the flags reach the listener", async () => {
    expect(
      (await rawRequest(sink.httpPort, "/api/v1/health", { headers: { host: "ui.example" } })).status,
    ).toBe(200);
    expect(
      (await rawRequest(sink.httpPort, "/api/v1/health", { headers: { host: "other.example:8443" } })).status,
    ).toBe(200);
    expect(
      (await rawRequest(sink.httpPort, "/api/v1/health", { headers: { host: "evil.example" } })).status,
    ).toBe(403);
    const cors = await rawRequest(sink.httpPort, "/api/v1/health", {
      headers: { origin: "https://app.example" },
    });
    expect(cors.headers["access-control-allow-origin"]).toBe("https://app.example");
    const held = rawRequest(sink.httpPort, "/api/v1/wait?to=a@flags.test&timeout=2");
    await waitUntil("the wait cap of 1", async () => {
      return (await rawRequest(sink.httpPort, "/api/v1/wait?to=b@flags.test&timeout=0")).status === 503;
    });
    expect((await held).status).toBe(408);
  });

  test("log lines show a request's control characters as escapes, never raw", async () => {
    const hostile = "\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202e";
    const r = await rawRequest(sink.httpPort, `/api/v1/messages?subject=${encodeURIComponent(hostile)}`, {
      method: "DELETE",
    });
    expect(r.status).toBe(200);
    const line = await waitUntil("the delete log line", () =>
      sink
        .output()
        .split("\n")
        .find((l) => l.includes("deleted 0 message(s) matching subject=")),
    );
    expect(line).toContain("\\x1b]0;pwned\\x07");
    expect(line).toContain("\\u202e");
    // no raw control byte other than the newlines between lines
    const raw = [...sink.output()].filter(
      (c) => c !== "\n" && (c < " " || (c >= "\u007f" && c <= "\u009f") || (c >= "\u202a" && c <= "\u202e")),
    );
    expect(raw).toEqual([]);
  });
});

describe("config", () => {
  test("TUN_SINK_HTTP_HOST and TUN_SINK_CORS are comma-separated; caps have documented defaults", () => {
    const c = resolveSinkConfig(
      {},
      { TUN_SINK_HTTP_HOST: "a.example, b.example:81", TUN_SINK_CORS: "https://x.example:443/" },
    );
    expect(c.httpHosts).toEqual(["a.example", "b.example:81"]);
    expect(c.corsOrigins).toEqual(["https://x.example"]);
    expect([c.maxWaits, c.maxSubscribers, c.maxHttpConnections]).toEqual([1000, 200, 1000]);
  });

  test("bad values name the flag", () => {
    expect(() => resolveSinkConfig({ cors: "app.example" }, {})).toThrow(/--cors .*expected an origin/);
    expect(() => resolveSinkConfig({ "http-host": "a b" }, {})).toThrow(/--http-host/);
    expect(() => resolveSinkConfig({ "max-waits": "0" }, {})).toThrow(/--max-waits .*at least 1/);
    expect(() => resolveSinkConfig({ "max-subscribers": "x" }, {})).toThrow(/--max-subscribers/);
  });
});
