// Host-key verification against an OpenSSH known_hosts file. ssh2 accepts any
// key by default, so the tunnel does what `ssh` does: look the host up (plain,
// hashed `|1|` and `[host]:port` entries), and refuse unknown or changed keys
// with the SHA256 fingerprint and the command that fixes it.
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";

export interface KnownKey {
  keyType: string;
  blob: Buffer;
  line: number;
  /** From an `@revoked` line: this key must never be accepted. */
  revoked: boolean;
}

/** What the verifier concluded about the key the server presented. */
export type HostKeyVerdict =
  | { status: "known" }
  | { status: "unknown"; keyType: string; fingerprint: string }
  | { status: "changed"; keyType: string; fingerprint: string; knownLines: number[] }
  | { status: "revoked"; keyType: string; fingerprint: string; knownLines: number[] };

/** `host` for port 22, `[host]:port` otherwise: the name known_hosts files use. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH's form: "SHA256:" + unpadded base64 of the SHA-256 of the key blob. */
export function fingerprint(blob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** The key type recorded inside an SSH public-key blob (first length-prefixed string). */
export function blobKeyType(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString("latin1");
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}

function hashedMatches(entry: string, name: string): boolean {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  const parts = entry.split("|");
  if (parts.length !== 4 || parts[1] !== "1") return false;
  const salt = Buffer.from(parts[2]!, "base64");
  const want = createHmac("sha1", salt).update(name).digest("base64");
  return want === parts[3];
}

/** True when the comma-separated pattern list of one line matches `name` (negations win). */
function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith("|")) return hashedMatches(patterns, name);
  let matched = false;
  for (const raw of patterns.split(",")) {
    const negated = raw.startsWith("!");
    const pattern = negated ? raw.slice(1) : raw;
    if (globToRegExp(pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/**
 * Keys recorded for `name` in the file's text, including `@revoked` ones.
 * `@cert-authority` lines are skipped: host certificates are not supported.
 */
export function keysFor(text: string, name: string): KnownKey[] {
  const found: KnownKey[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, i) => {
    const line = rawLine.trim();
    if (!line || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith("@") ? fields.shift() : undefined;
    if (marker !== undefined && marker !== "@revoked") return;
    const [patterns, keyType, b64] = fields;
    if (!patterns || !keyType || !b64) return;
    if (!patternsMatch(patterns, name)) return;
    found.push({ keyType, blob: Buffer.from(b64, "base64"), line: i + 1, revoked: marker === "@revoked" });
  });
  return found;
}

export function readKnownHosts(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw new Error(`cannot read known_hosts file ${file}: ${(err as Error).message}`);
  }
}

export function verifyHostKey(entries: KnownKey[], presented: Buffer): HostKeyVerdict {
  const keyType = blobKeyType(presented);
  const fp = fingerprint(presented);
  const revoked = entries.filter((k) => k.revoked && k.blob.equals(presented));
  if (revoked.length)
    return { status: "revoked", keyType, fingerprint: fp, knownLines: revoked.map((k) => k.line) };
  const known = entries.filter((k) => !k.revoked);
  if (known.some((k) => k.blob.equals(presented))) return { status: "known" };
  if (known.length === 0) return { status: "unknown", keyType, fingerprint: fp };
  return { status: "changed", keyType, fingerprint: fp, knownLines: known.map((k) => k.line) };
}

// ssh2's default host-key algorithm order; reordered so that the types we
// already know for this host come first (as OpenSSH does), otherwise a host
// known only by its RSA key would look "changed" when ed25519 gets negotiated.
const HOST_KEY_ALGORITHMS = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

export function preferredHostKeyAlgorithms(known: KnownKey[]): string[] {
  const wanted = new Set<string>();
  for (const k of known.filter((e) => !e.revoked)) {
    if (k.keyType === "ssh-rsa") ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"].forEach((a) => wanted.add(a));
    else if (HOST_KEY_ALGORITHMS.includes(k.keyType)) wanted.add(k.keyType);
  }
  return [...wanted, ...HOST_KEY_ALGORITHMS.filter((a) => !wanted.has(a))];
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./~-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The one-line refusal for an unknown or changed key, with the command that accepts it. */
export function refusalMessage(
  verdict: Exclude<HostKeyVerdict, { status: "known" }>,
  host: string,
  port: number,
  knownHostsFile: string,
): string {
  const name = knownHostsName(host, port);
  const scan = `ssh-keyscan ${port === 22 ? "" : `-p ${port} `}${shellQuote(host)} >> ${shellQuote(knownHostsFile)}`;
  const type = verdict.keyType.replace(/^ssh-/, "").toUpperCase();
  if (verdict.status === "revoked") {
    return (
      `the host key of ${name} (${type} key ${verdict.fingerprint}) is marked @revoked in ${knownHostsFile} ` +
      `line ${verdict.knownLines.join(", ")}; refusing to connect. Ask whoever runs the VM for its new key`
    );
  }
  if (verdict.status === "unknown") {
    return (
      `the host key of ${name} is not in ${knownHostsFile} (${type} key ${verdict.fingerprint}); ` +
      `if that is your tunnel VM's key, accept it with: ${scan}`
    );
  }
  return (
    `the host key of ${name} has CHANGED (now ${type} key ${verdict.fingerprint}; ` +
    `${knownHostsFile} line ${verdict.knownLines.join(", ")} has another); someone may be intercepting the connection. ` +
    `If the VM was rebuilt, replace the old key with: ssh-keygen -R ${shellQuote(name)} -f ${shellQuote(knownHostsFile)} && ${scan}`
  );
}
