// known_hosts matching: plain, wildcard, negated, hashed and [host]:port
// entries, as OpenSSH writes and reads them.
import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  fingerprint,
  keysFor,
  knownHostsName,
  preferredHostKeyAlgorithms,
  verifyHostKey,
} from "../../cli/tunnel/known-hosts.js";

const blob = (type: string, fill: number): Buffer => {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, Buffer.alloc(32, fill)]);
};
const ED = blob("ssh-ed25519", 1);
const OTHER = blob("ssh-ed25519", 2);
const line = (hosts: string, key: Buffer, type = "ssh-ed25519") =>
  `${hosts} ${type} ${key.toString("base64")}`;
const hashed = (name: string): string => {
  const salt = randomBytes(20);
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
};

describe("known_hosts", () => {
  it("names hosts as OpenSSH does: bare for port 22, [host]:port otherwise", () => {
    expect(knownHostsName("vm.example.com", 22)).toBe("vm.example.com");
    expect(knownHostsName("10.0.0.5", 2222)).toBe("[10.0.0.5]:2222");
  });

  it("matches plain, comma-separated and wildcard entries, and not other ports", () => {
    const text = [
      "# comment",
      line("a.example.com,10.0.0.1", ED),
      line("*.tun.example.com", OTHER),
      line("[vm.example.com]:2222", ED),
    ].join("\n");
    expect(keysFor(text, "10.0.0.1").map((k) => k.line)).toEqual([2]);
    expect(keysFor(text, "x.tun.example.com").map((k) => k.line)).toEqual([3]);
    expect(keysFor(text, "[vm.example.com]:2222").map((k) => k.line)).toEqual([4]);
    expect(keysFor(text, "vm.example.com")).toEqual([]);
  });

  it("lets a negated pattern exclude a host, and skips @cert-authority lines", () => {
    const text = [line("*.example.com,!bad.example.com", ED), `@cert-authority ${line("*", OTHER)}`].join(
      "\n",
    );
    expect(keysFor(text, "good.example.com")).toHaveLength(1);
    expect(keysFor(text, "bad.example.com")).toHaveLength(0);
  });

  it("refuses a key marked @revoked even when another line accepts it", () => {
    const entries = keysFor([line("h", ED), `@revoked ${line("*", ED)}`].join("\n"), "h");
    expect(verifyHostKey(entries, ED)).toMatchObject({ status: "revoked", knownLines: [2] });
    expect(verifyHostKey(keysFor(`@revoked ${line("*", OTHER)}\n${line("h", ED)}`, "h"), ED)).toEqual({
      status: "known",
    });
  });

  it("matches hashed |1| entries", () => {
    const text = line(hashed("[127.0.0.1]:2200"), ED);
    expect(keysFor(text, "[127.0.0.1]:2200")).toHaveLength(1);
    expect(keysFor(text, "[127.0.0.1]:2201")).toHaveLength(0);
  });

  it("tells known, unknown and changed keys apart, with OpenSSH's SHA256 fingerprint", () => {
    const known = keysFor(line("h", ED), "h");
    expect(verifyHostKey(known, ED)).toEqual({ status: "known" });
    expect(verifyHostKey([], ED)).toMatchObject({ status: "unknown", keyType: "ssh-ed25519" });
    expect(verifyHostKey(known, OTHER)).toMatchObject({ status: "changed", knownLines: [1] });
    expect(fingerprint(ED)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it("asks for the host key types already known first", () => {
    const rsaOnly = keysFor(line("h", blob("ssh-rsa", 3), "ssh-rsa"), "h");
    expect(preferredHostKeyAlgorithms(rsaOnly).slice(0, 3)).toEqual([
      "rsa-sha2-512",
      "rsa-sha2-256",
      "ssh-rsa",
    ]);
    expect(preferredHostKeyAlgorithms([])[0]).toBe("ssh-ed25519");
  });
});
