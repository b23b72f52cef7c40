// Builds the three workspace packages in dependency order: @tunmail/client,
// then @tunmail/sink, then tunmail (the CLI imports both by package name, so
// their declarations must exist first). Each package's tsconfig.build.json
// compiles it together with the shared protocol/ sources into its own dist/.
// Then copies the non-TS assets the runtime reads (numbered SQL migrations),
// marks the CLI entry executable, and bundles the web UI into sink/dist/web/
// (scripts/build-web.mjs).
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { buildWeb } from "./build-web.mjs";

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL("..", import.meta.url));
process.chdir(root);

const PACKAGES = ["client", "sink", "cli"];

let failed = null;
for (const pkg of PACKAGES) {
  const tsc = spawnSync(
    process.execPath,
    [require.resolve("typescript/bin/tsc"), "-p", `${pkg}/tsconfig.build.json`],
    { stdio: "inherit" },
  );
  if (tsc.status !== 0) failed ??= { pkg, status: tsc.status ?? 1 };
}
if (existsSync("sink/storage/migrations")) {
  cpSync("sink/storage/migrations", "sink/dist/sink/storage/migrations", { recursive: true });
}
if (existsSync("cli/dist/cli/main.js")) chmodSync("cli/dist/cli/main.js", 0o755);
if (failed) {
  console.error(`build: TypeScript reported errors in ${failed.pkg}/ (output above)`);
  process.exit(failed.status);
}
try {
  await buildWeb();
} catch (err) {
  console.error(`build: the web UI did not build: ${err.message}`);
  process.exit(1);
}
