// This CLI's version (`tun --version`, and what `tun doctor` compares with the
// VM sink's), from the nearest package.json that names the CLI: the layout
// differs between the sources, dist/ and an installed package, and yargs'
// own lookup starts from the bin stub, which finds nothing when installed.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_NAMES = new Set(["tunmail"]);
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
