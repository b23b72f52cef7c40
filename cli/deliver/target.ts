// Where deliveries go: only the URL the user typed, and only to this machine
// unless they said otherwise. Nothing in a message can change the target
// (redirects are not followed either; see attempt.ts), so a hostile mail can
// never make tun POST somewhere else.
import { isIP } from "node:net";
import { UsageError } from "../errors.js";

export interface DeliveryTarget {
  url: URL;
  /** How console lines name it: the path as given, or the full URL. */
  display: string;
}

export interface TargetOptions {
  /** The flag the value came from, for messages (e.g. "--deliver", "--to"). */
  flag: string;
  /** The app's local port, which a bare PATH is relative to (tun up); absent where there is none. */
  localPort?: number;
  /** --deliver-remote: allow a host other than loopback. */
  allowRemote: boolean;
}

/** A PATH ("/webhooks/inbound") or an http(s) URL; throws a UsageError saying how to fix it. */
export function deliveryTarget(value: string, o: TargetOptions): DeliveryTarget {
  const text = value.trim();
  if (text.startsWith("/")) {
    if (o.localPort === undefined) {
      throw new UsageError(
        `${o.flag} ${text}: a path needs the app's port here; give a full URL like http://localhost:3000${text}`,
      );
    }
    return { url: new URL(`http://localhost:${o.localPort}${text}`), display: text };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(
      `${o.flag}: expected a path like /webhooks/inbound or a URL like http://localhost:3000/webhooks/inbound, got "${text}"`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`${o.flag}: only http:// and https:// URLs can be delivered to, got "${text}"`);
  }
  if (!o.allowRemote && !isLoopbackHost(url.hostname)) {
    throw new UsageError(
      `${o.flag}: ${url.host} is not this machine; tun delivers only to localhost unless you add --deliver-remote`,
    );
  }
  return { url, display: url.toString() };
}

/** localhost, 127.0.0.0/8 or ::1 (the URL parser has already normalised numeric forms). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1" || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(host);
  return false;
}
