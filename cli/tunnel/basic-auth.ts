// Basic auth on a tunnel's public URL. Caddy's `authentication` handler keeps
// only a bcrypt hash in its config (which anyone with the admin API can read);
// the password stays on the laptop, where the chain proof uses it.
import bcrypt from "bcryptjs";
import type { BasicAuthCredentials } from "../config/tunnels.js";
import type { RouteGuard } from "./route.js";

/**
 * bcrypt work factor (log2 rounds). Caddy caches successful comparisons, so
 * the cost is paid about once per client; 10 keeps that near 100 ms.
 */
const BCRYPT_COST = 10;

export async function routeGuard(creds: BasicAuthCredentials | null): Promise<RouteGuard> {
  if (!creds) return { basicAuth: null };
  return { basicAuth: { username: creds.username, hash: await bcrypt.hash(creds.password, BCRYPT_COST) } };
}

/** The Authorization header value a client sends with these credentials. */
export function basicAuthHeader(creds: BasicAuthCredentials): string {
  return "Basic " + Buffer.from(`${creds.username}:${creds.password}`).toString("base64");
}
