// This CLI's version, from the nearest package.json that names the CLI (the
// layout differs between the sources, dist/ and an installed package).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_NAMES = new Set(["tun", "tunmail"]);
/** How many folders up from this file to look. */
const MAX_LEVELS = 6;

export function cliVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < MAX_LEVELS; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name && PACKAGE_NAMES.has(pkg.name) && pkg.version) return pkg.version;
    } catch {
      // not here; keep walking up
    }
    dir = dirname(dir);
  }
  return "0.0.0";
}

/** Same major and minor: the wire protocol and API are the same (patch releases fix bugs only). */
export function compatibleVersions(a: string, b: string): boolean {
  const mm = (v: string) => v.split(".").slice(0, 2).join(".");
  return mm(a) === mm(b);
}
