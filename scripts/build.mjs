// Compiles TypeScript to dist/ and copies the non-TS assets the runtime reads
// (numbered SQL migrations), marks the CLI entry executable, then bundles the
// web UI into sink/dist/web/ (scripts/build-web.mjs).
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { buildWeb } from "./build-web.mjs";

const require = createRequire(import.meta.url);
const tsc = spawnSync(
  process.execPath,
  [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"],
  {
    stdio: "inherit",
  },
);
if (existsSync("sink/storage/migrations")) {
  cpSync("sink/storage/migrations", "dist/sink/storage/migrations", { recursive: true });
}
if (existsSync("dist/cli/main.js")) chmodSync("dist/cli/main.js", 0o755);
if (tsc.status !== 0) {
  console.error("build: TypeScript reported errors (output above)");
  process.exit(tsc.status ?? 1);
}
try {
  await buildWeb();
} catch (err) {
  console.error(`build: the web UI did not build: ${err.message}`);
  process.exit(1);
}
