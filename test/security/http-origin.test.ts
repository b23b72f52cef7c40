// The pure Host/Origin decisions of protocol/http-origin.ts, which the sink and
// `tun up --ui`'s proxy share: the cases a listener's address and flags produce.
import { describe, expect, test } from "vitest";
import {
  allowedHosts,
  checkHost,
  checkOrigin,
  corsOriginFor,
  normalizeOrigin,
  type OriginPolicy,
} from "../../protocol/http-origin.js";

const policy = (
  listen: { host: string; port: number },
  extras: string[] = [],
  cors: string[] = [],
): OriginPolicy => ({
  hosts: allowedHosts(listen, extras),
  corsOrigins: new Set(cors.map((o) => normalizeOrigin(o)!)),
});
const host = (p: OriginPolicy, h: string | undefined): boolean => checkHost({ host: h }, p).ok;
const origin = (p: OriginPolicy, h: string, o: string): boolean => checkOrigin({ host: h, origin: o }, p).ok;

describe("checkHost", () => {
  test("a listener on 10.0.0.5:8025 serves its own address with its port, and loopback names", () => {
    const p = policy({ host: "10.0.0.5", port: 8025 });
    expect(host(p, "10.0.0.5:8025")).toBe(true);
    expect(host(p, "10.0.0.5:9000")).toBe(false);
    expect(host(p, "10.0.0.5")).toBe(false);
    expect(host(p, "LOCALHOST:8025")).toBe(true);
    expect(host(p, "[::1]:1234")).toBe(true);
    expect(host(p, "evil.example:8025")).toBe(false);
    expect(host(p, "127.0.0.1.evil.example:8025")).toBe(false);
    expect(host(p, undefined)).toBe(false);
  });

  test("a wildcard or IPv6 listen address; port 80 may be left out", () => {
    const any = policy({ host: "0.0.0.0", port: 8025 });
    expect([...any.hosts].some((h) => h.startsWith("0.0.0.0"))).toBe(false);
    const v6 = policy({ host: "::1", port: 80 });
    expect(host(v6, "[::1]")).toBe(true);
    expect(host(v6, "[::1]:80")).toBe(true);
  });

  test("--http-host: a bare name on the listening port or none; NAME:PORT exactly", () => {
    const p = policy({ host: "127.0.0.1", port: 8025 }, ["UI.example", "proxy.example:8443", "::2"]);
    expect(host(p, "ui.example")).toBe(true);
    expect(host(p, "ui.example:8025")).toBe(true);
    expect(host(p, "ui.example:1")).toBe(false);
    expect(host(p, "proxy.example:8443")).toBe(true);
    expect(host(p, "proxy.example")).toBe(false);
    expect(host(p, "[::2]")).toBe(true);
  });
});

describe("checkOrigin", () => {
  const p = policy({ host: "127.0.0.1", port: 8025 }, ["ui.example"], ["https://app.example:443"]);
  test("no Origin passes; the sink's own origin passes; anything else is refused", () => {
    expect(checkOrigin({ host: "127.0.0.1:8025" }, p).ok).toBe(true);
    expect(origin(p, "127.0.0.1:8025", "http://127.0.0.1:8025")).toBe(true);
    expect(origin(p, "ui.example", "https://ui.example")).toBe(true);
    expect(origin(p, "ui.example", "https://ui.example:443")).toBe(true);
    expect(origin(p, "127.0.0.1:8025", "http://localhost:8025")).toBe(false);
    expect(origin(p, "127.0.0.1:8025", "null")).toBe(false);
    expect(origin(p, "127.0.0.1:8025", "http://127.0.0.1:8025.evil.example")).toBe(false);
    expect(origin(p, "evil.example:8025", "http://evil.example:8025")).toBe(false);
    expect(origin(p, "127.0.0.1:8025", "http://user@127.0.0.1:8025")).toBe(false);
  });

  test("--cors origins pass and are echoed; default ports are normalised", () => {
    expect(origin(p, "127.0.0.1:8025", "https://app.example")).toBe(true);
    expect(corsOriginFor({ origin: "https://app.example" }, p)).toBe("https://app.example");
    expect(corsOriginFor({ origin: "http://app.example" }, p)).toBeNull();
    expect(corsOriginFor({}, p)).toBeNull();
    expect(normalizeOrigin("HTTP://A.example:80/")).toBe("http://a.example");
    expect(normalizeOrigin("ftp://a.example")).toBeNull();
  });
});
