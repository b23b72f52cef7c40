// The package version, read once from the nearest package.json (the layout
// differs between the sources and dist/, so walk up instead of a fixed path).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | null = null;

export function sinkVersion(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "@tunmail/sink" && pkg.version) return (cached = pkg.version);
    } catch {
      // not here; keep walking up
    }
    dir = dirname(dir);
  }
  return (cached = "0.0.0");
}
