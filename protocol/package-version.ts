// A package's version, read from the nearest package.json with its name,
// walking up from the calling module: the layout differs between the sources,
// dist/ and an installed package, so no fixed relative path fits all three.
// The sink reports it in /health and the stream's hello; the CLI in --version
// and in `tun doctor`'s comparison with the VM sink.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** How many folders up from the calling module to look. */
const MAX_LEVELS = 6;
const UNKNOWN_VERSION = "0.0.0";

export function packageVersion(moduleUrl: string, packageName: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (let i = 0; i < MAX_LEVELS; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === packageName && pkg.version) return pkg.version;
    } catch {
      // not here; keep walking up
    }
    dir = dirname(dir);
  }
  return UNKNOWN_VERSION;
}
