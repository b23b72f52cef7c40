// Bundles the web UI (web/) with esbuild into sink/dist/web/: content-hashed
// JS and CSS under assets/, and an index.html that references them. The sink
// serves that folder at / (sink/http/ui.ts).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const WEB_OUT_DIR = join(ROOT, "sink", "dist", "web");

/** Builds the UI; returns the asset file names (relative to assets/). */
export async function buildWeb({ outDir = WEB_OUT_DIR } = {}) {
  rmSync(outDir, { recursive: true, force: true });
  const assetsDir = join(outDir, "assets");
  mkdirSync(assetsDir, { recursive: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ["web/src/main.tsx"],
    bundle: true,
    minify: true,
    format: "esm",
    target: ["chrome111", "firefox115", "safari16.4"],
    jsx: "automatic",
    jsxImportSource: "preact",
    outdir: assetsDir,
    entryNames: "[name]-[hash]",
    assetNames: "[name]-[hash]",
    metafile: true,
    logLevel: "warning",
    legalComments: "none",
  });
  const files = Object.keys(result.metafile.outputs).map((p) => basename(p));
  const js = files.find((f) => f.endsWith(".js"));
  const css = files.find((f) => f.endsWith(".css"));
  if (!js || !css)
    throw new Error(`build-web: expected one .js and one .css output, got ${files.join(", ")}`);
  const template = readFileSync(join(ROOT, "web", "index.html"), "utf8");
  const html = template.replace("%CSS%", `/assets/${css}`).replace("%JS%", `/assets/${js}`);
  writeFileSync(join(outDir, "index.html"), html);
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await buildWeb();
  console.log(`web: ${files.join(", ")}`);
}
