// Heavy modules load only where they are used: the Azure SDK only for the
// port-25 commands, SSH only for the tunnel, SQLite and smtp-server only for
// `tun sink`, and of `tun mail`'s own modules only the subcommand that runs. A module-resolution hook in the real CLI process records every
// package it loads, so an eager import anywhere in the chain shows up here.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { TUN_BIN } from "../helpers/sink.js";

let dir: string;
let register: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tun-lazy-"));
  const hooks = join(dir, "hooks.mjs");
  writeFileSync(
    hooks,
    `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (process.env.TUN_IMPORT_LOG) appendFileSync(process.env.TUN_IMPORT_LOG, r.url + "\\n");
  return r;
}
`,
  );
  register = join(dir, "register.mjs");
  writeFileSync(
    register,
    `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every module URL (node:… built-ins included) the CLI resolved while running `args`. */
function modulesLoaded(args: string[]): string[] {
  const log = join(dir, `imports-${args.join("-")}.log`);
  writeFileSync(log, "");
  spawnSync(process.execPath, ["--import", register, TUN_BIN, ...args], {
    env: {
      ...process.env,
      TUN_IMPORT_LOG: log,
      TUN_SINK_URL: "http://127.0.0.1:9",
      ...{ TUN_HOST: "vm.test", TUN_DOMAIN: "t.test", TUN_USER: "u" },
      HOME: dir,
      TUN_AZURE_ENDPOINT: "https://127.0.0.1:9",
      TUN_AZURE_ACCESS_TOKEN: "x",
      TUN_AZURE_CALL_TIMEOUT: "1s",
    },
    encoding: "utf8",
    timeout: 30_000,
  });
  return readFileSync(log, "utf8").split("\n").filter(Boolean);
}

/** The npm packages (node_modules/<name>) the CLI resolved while running `args`. */
function packagesLoaded(args: string[]): Set<string> {
  const names = new Set<string>();
  for (const url of modulesLoaded(args)) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (m) names.add(m[1]!);
  }
  return names;
}

const HEAVY = [
  "@azure/arm-network",
  "@azure/identity",
  "ssh2",
  "better-sqlite3",
  "smtp-server",
  "mailparser",
];

test("tun --help and tun mail ls load none of the heavy modules", () => {
  for (const args of [["--help"], ["mail", "ls"]]) {
    const loaded = packagesLoaded(args);
    expect(loaded.size, `${args.join(" ")} resolved nothing: is the hook working?`).toBeGreaterThan(0);
    for (const heavy of HEAVY) expect([...loaded], `${args.join(" ")} loaded ${heavy}`).not.toContain(heavy);
  }
});

test("tun port25 status is where the Azure SDK loads", () => {
  const loaded = packagesLoaded([
    ...["port25", "status", "--azure.subscription-id", "sub", "--azure.resource-group", "rg"],
    ...["--azure.nsg", "nsg"],
  ]);
  expect([...loaded]).toContain("@azure/arm-network");
  expect([...loaded]).not.toContain("better-sqlite3");
});

test("tun mail ls loads the ls handler only: no other subcommand's module, payload format or child process", () => {
  const loaded = modulesLoaded(["mail", "ls"]);
  const ours = loaded
    .filter((u) => u.includes("/cli/dist/cli/"))
    .map((u) => u.replace(/^.*\/cli\/dist\/cli\//, ""));
  expect(ours, "the hook saw no CLI module").toContain("mail/ls.js");
  for (const other of [
    "mail/show.js",
    "mail/save.js",
    "mail/open.js",
    "mail/wait.js",
    "mail/remove.js",
    "mail/deliver.js",
  ]) {
    expect(ours).not.toContain(other);
  }
  expect(ours.filter((m) => m.startsWith("deliver/")).sort()).toEqual(
    // the flags' module and what it validates with; not the formats or the queue
    ["deliver/options.js", "deliver/payload.js", "deliver/target.js", "deliver/timings.js"],
  );
  expect(loaded).not.toContain("node:child_process");
  expect(loaded).not.toContain("node:crypto");
  // the handler does load when its subcommand runs
  expect(
    modulesLoaded(["mail", "show", "01JD0000000000000000000000"]).some((u) => u.endsWith("/mail/show.js")),
  ).toBe(true);
});
