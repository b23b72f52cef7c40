// Brings a fresh machine to a runnable state: Postfix's tools from Debian,
// MailDev (pinned in bench/package.json) inside bench/, the project's own
// dependencies, and a fresh build of our sink.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BENCH_ROOT, REPO_ROOT } from "./systems.mjs";

function run(label, cmd, args, opts = {}) {
  console.log(`[bench] prepare: ${label}`);
  const r = spawnSync(cmd, args, { cwd: REPO_ROOT, stdio: "inherit", ...opts });
  return r.status ?? 1;
}

function installedVersion(dir, pkg) {
  try {
    return JSON.parse(readFileSync(join(dir, "node_modules", pkg, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

export function prepare({ build = true } = {}) {
  if (
    run("system packages (postfix for smtp-source/smtp-sink)", "bash", ["scripts/system-deps.sh", "--bench"])
  ) {
    throw new Error(
      "could not install Postfix's smtp-source/smtp-sink (see scripts/system-deps.sh output above)",
    );
  }
  if (!existsSync(join(REPO_ROOT, "node_modules/ws"))) {
    if (run("project dependencies (npm ci)", "npm", ["ci", "--no-audit", "--no-fund"])) {
      throw new Error("npm ci failed in the project root");
    }
  }
  const pinned = JSON.parse(readFileSync(join(BENCH_ROOT, "package.json"), "utf8")).dependencies.maildev;
  if (installedVersion(BENCH_ROOT, "maildev") !== pinned) {
    const args = existsSync(join(BENCH_ROOT, "package-lock.json")) ? ["ci"] : ["install"];
    if (
      run(`MailDev ${pinned} into bench/node_modules`, "npm", [
        ...args,
        "--no-audit",
        "--no-fund",
        "--prefix",
        BENCH_ROOT,
      ])
    ) {
      throw new Error("could not install MailDev into bench/ (npm output above)");
    }
  }
  if (build) {
    // The build may report type errors from work in progress elsewhere yet still emit dist/.
    const status = run("build (npm run build)", "npm", ["run", "build", "--silent"]);
    if (status !== 0) console.log(`[bench] prepare: build exited ${status}; using whatever dist/ it emitted`);
  }
}
