// better-sqlite3 normally downloads a prebuilt binary at install time and
// compiles from source (about 60 s and 370 MB here) when it cannot; this
// machine reaches no download host. The install tests hand prebuild-install
// the binary this checkout already compiled, through its documented
// `<package>_local_prebuilds` setting, so they measure our packaging rather
// than a C++ compile. The install still runs better-sqlite3's own install script.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./pack.js";

/** Writes the local prebuild tarball into `dir`; returns the environment that points npm at it. */
export function localBetterSqlitePrebuild(dir: string): Record<string, string> {
  const pkgDir = join(REPO, "node_modules", "better-sqlite3");
  const { version } = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { version: string };
  const file = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  mkdirSync(dir, { recursive: true });
  execFileSync("tar", ["-czf", join(dir, file), "-C", pkgDir, "build/Release/better_sqlite3.node"]);
  return { npm_config_better_sqlite3_local_prebuilds: dir };
}
