// The route record tun keeps in Caddy, and reading Caddy's listen addresses.
import { describe, expect, it } from "vitest";
import {
  buildRoute,
  chooseProbeListener,
  dialableListen,
  isDnsLabel,
  readHolder,
} from "../../cli/tunnel/route.js";

describe("tunnel routes", () => {
  it("round-trips the holder through the route's vars handler", () => {
    const holder = { holder: "alice@laptop", since: "2026-11-22T03:00:00.000Z", upstreamPort: 41234 };
    const route = buildRoute("api", "tun.example.com", holder);
    expect(route["@id"]).toBe("tun-api");
    expect(route.match).toEqual([{ host: ["api.tun.example.com"] }]);
    expect(readHolder(JSON.parse(JSON.stringify(route)))).toEqual(holder);
  });

  it("ignores routes tun did not create", () => {
    expect(readHolder({ "@id": "other", handle: [{ handler: "vars", tun_holder: "x" }] })).toBeNull();
    expect(readHolder({ "@id": "tun-x", handle: [{ handler: "reverse_proxy" }] })).toBeNull();
    expect(readHolder(undefined)).toBeNull();
  });

  it("accepts DNS labels only", () => {
    expect(isDnsLabel("api")).toBe(true);
    expect(isDnsLabel("a-1")).toBe(true);
    for (const bad of ["", "-a", "a-", "a.b", "a_b", "x".repeat(64)]) expect(isDnsLabel(bad)).toBe(false);
  });

  it("turns Caddy listen addresses into something to dial on the VM", () => {
    expect(dialableListen(":443")).toEqual({ host: "127.0.0.1", port: 443 });
    expect(dialableListen("tcp/0.0.0.0:80")).toEqual({ host: "127.0.0.1", port: 80 });
    expect(dialableListen("127.0.0.1:8080")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(dialableListen("[::1]:80-81")).toEqual({ host: "::1", port: 80 });
    expect(dialableListen("unix//run/caddy.sock")).toBeNull();
  });

  it("probes a TLS listener when the server has one, knowing which listeners speak TLS", () => {
    // The VM's config: automatic HTTPS on :443, plain :80 (which may only redirect).
    expect(chooseProbeListener({ listen: [":80", ":443"] })).toEqual({
      host: "127.0.0.1",
      port: 443,
      text: ":443",
      tls: true,
    });
    expect(
      chooseProbeListener({ listen: ["127.0.0.1:8080"], automatic_https: { disable: true } }),
    ).toMatchObject({
      port: 8080,
      tls: false,
    });
    expect(chooseProbeListener({ listen: [":8443"] }, 8080)).toMatchObject({ port: 8443, tls: true });
    expect(chooseProbeListener({ listen: [":80"] })).toMatchObject({ port: 80, tls: false });
    expect(chooseProbeListener({ listen: [":80"], tls_connection_policies: [{}] })).toMatchObject({
      tls: true,
    });
    expect(chooseProbeListener({})).toBeNull();
  });
});
