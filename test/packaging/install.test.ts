// The three packages as users install them, from the tarballs `npm pack`
// makes (the tested path until they are published): the tool globally into a
// temporary prefix, the client alone into an empty project (size budget, no
// native code), and the in-process sink into another empty project, where the
// README's Vitest globalSetup example runs verbatim.
import { spawn, type ChildProcess } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { waitUntil } from "../helpers/poll.js";
import { packWorkspaces, REPO, serveScope, type Packed, type ScopeRegistry } from "./pack.js";
import { localBetterSqlitePrebuild } from "./prebuild.js";

/** What issue 13 allows the client to add to a project's node_modules. */
const CLIENT_BUDGET_BYTES = 2 * 1024 * 1024;
const INSTALL_TIMEOUT_MS = 300_000;

let work: string;
let packs: Packed[];
let registry: ScopeRegistry;
let npmEnv: NodeJS.ProcessEnv;
const children: ChildProcess[] = [];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = npmEnv): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

const npm = (args: string[], cwd: string) =>
  run("npm", [...args, `--@tunmail:registry=${registry.url}`, "--no-audit", "--no-fund"], cwd);

function emptyProject(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, private: true, type: "module" }, null, 2));
  return dir;
}

/** Apparent size of every file under `dir`, in bytes, and the files matching `pick`. */
function walk(
  dir: string,
  pick: (name: string) => boolean = () => false,
): { bytes: number; picked: string[] } {
  let bytes = 0;
  const picked: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    bytes += statSync(path).size;
    if (pick(entry.name)) picked.push(path);
  }
  return { bytes, picked };
}

function devVersion(name: string): string {
  const root = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
    devDependencies: Record<string, string>;
  };
  return root.devDependencies[name]!;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "tun-packaging-"));
  packs = packWorkspaces(["client", "sink", "cli"], work);
  registry = await serveScope(packs.filter((p) => p.name.startsWith("@tunmail/")));
  npmEnv = {
    ...process.env,
    ...localBetterSqlitePrebuild(join(work, "prebuilds")),
    npm_config_update_notifier: "false",
    // a clean user config: nothing from the developer's ~/.npmrc leaks in
    npm_config_userconfig: join(work, "npmrc"),
  };
  writeFileSync(join(work, "npmrc"), "");
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await registry?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("npm pack", () => {
  test("every package is publishable: no private flag, metadata, LICENSE, only what runs", () => {
    expect(packs.map((p) => p.name)).toEqual(["@tunmail/client", "@tunmail/sink", "tunmail"]);
    for (const p of packs) {
      expect(p.manifest.private, p.name).toBeUndefined();
      for (const key of ["version", "description", "license", "engines", "keywords", "files"]) {
        expect(p.manifest[key], `${p.name} ${key}`).toBeTruthy();
      }
    }
  });
});

test("the README shows the globalSetup example files verbatim", () => {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  for (const f of ["vitest.config.ts", "global-setup.ts", "welcome.spec.ts"]) {
    const marker = `<!-- example: test/packaging/example/${f} -->\n\n\`\`\`ts\n`;
    const at = readme.indexOf(marker);
    expect(at, `README marker for ${f}`).toBeGreaterThan(0);
    const block = readme.slice(at + marker.length, readme.indexOf("```", at + marker.length));
    expect(block).toBe(readFileSync(join(REPO, "test/packaging/example", f), "utf8"));
  }
});

describe("@tunmail/client in an empty project", () => {
  test("adds under 2 MB, ws only, no native code, in seconds", async () => {
    const dir = emptyProject("client-only");
    const r = await npm(["install", "@tunmail/client"], dir);
    expect(r.code, r.stderr).toBe(0);
    const modules = join(dir, "node_modules");
    const { bytes, picked } = walk(modules, (n) => n.endsWith(".node") || n === "binding.gyp");
    expect(picked).toEqual([]);
    expect(bytes).toBeLessThan(CLIENT_BUDGET_BYTES);
    const top = readdirSync(modules).filter((n) => !n.startsWith("."));
    expect(top.sort()).toEqual(["@tunmail", "ws"]);
    expect(readdirSync(join(modules, "@tunmail"))).toEqual(["client"]);
    const load = await run(
      process.execPath,
      ["-e", 'import("@tunmail/client").then((m) => console.log(typeof m.SinkClient))'],
      dir,
    );
    expect(load.stdout.trim()).toBe("function");
    console.log(
      `[packaging] @tunmail/client: ${(bytes / 1024).toFixed(0)} KiB in node_modules, install ${r.ms} ms`,
    );
  });
});

describe("@tunmail/sink in an empty project", () => {
  test(
    "pulls in neither ssh2 nor @azure/*, and the README's globalSetup example passes",
    async () => {
      const dir = emptyProject("sink-suite");
      const example = join(REPO, "test/packaging/example");
      for (const f of readdirSync(example)) cpSync(join(example, f), join(dir, f));
      const r = await npm(
        [
          "install",
          "-D",
          "@tunmail/sink",
          "@tunmail/client",
          `vitest@${devVersion("vitest")}`,
          `nodemailer@${devVersion("nodemailer")}`,
        ],
        dir,
      );
      expect(r.code, r.stderr).toBe(0);
      const modules = join(dir, "node_modules");
      const top = readdirSync(modules);
      for (const unwanted of ["ssh2", "@azure", "yargs", "tunmail", "cpu-features"]) {
        expect(top, unwanted).not.toContain(unwanted);
      }
      const suite = await run(process.execPath, [join(modules, "vitest/vitest.mjs"), "run"], dir, {
        ...process.env,
        CI: "1",
        NO_COLOR: "1",
      });
      expect(suite.code, suite.stdout + suite.stderr).toBe(0);
      expect(suite.stdout).toMatch(/Tests\s+1 passed/);
      console.log(`[packaging] @tunmail/sink project install ${r.ms} ms, example suite ${suite.ms} ms`);
    },
    INSTALL_TIMEOUT_MS,
  );
});

describe("tunmail installed globally", () => {
  test(
    "puts tun on the PATH: --version, tun sink and tun mail ls work from another folder",
    async () => {
      const prefix = join(work, "prefix");
      const cli = packs.find((p) => p.name === "tunmail")!;
      const r = await npm(["install", "-g", "--prefix", prefix, cli.file], work);
      expect(r.code, r.stderr).toBe(0);

      const elsewhere = join(work, "elsewhere");
      mkdirSync(elsewhere);
      // PATH: the prefix's bin, the folder holding node (for `#!/usr/bin/env node`), and env itself
      const env = {
        HOME: work,
        PATH: [join(prefix, "bin"), dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
        NO_COLOR: "1",
      };
      const version = await run("tun", ["--version"], elsewhere, env);
      expect(version.code, version.stderr).toBe(0);
      expect(version.stdout.trim()).toBe(cli.version);

      const sink = spawn(
        "tun",
        ["sink", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--db", ":memory:"],
        {
          cwd: elsewhere,
          env,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      children.push(sink);
      let out = "";
      sink.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      await waitUntil(
        "tun sink's startup lines",
        () => /http listening on (\S+)/.test(out) && /smtp listening on \S+:(\d+)/.test(out),
        20_000,
      );
      const url = /http listening on (\S+)/.exec(out)![1]!;
      const smtpPort = Number(/smtp listening on \S+:(\d+)/.exec(out)![1]);
      expect(out).toContain("database in memory");

      const smtp = nodemailer.createTransport({ host: "127.0.0.1", port: smtpPort });
      await smtp.sendMail({ from: "a@shop.test", to: "qa@example.test", subject: "Installed", text: "hi" });
      smtp.close();

      const ls = await run("tun", ["mail", "ls", "--sink", url], elsewhere, env);
      expect(ls.code, ls.stderr).toBe(0);
      expect(ls.stdout).toContain("Installed");

      sink.kill("SIGTERM");
      await new Promise((resolve) => sink.once("close", resolve));
      expect(readdirSync(elsewhere)).toEqual([]); // nothing written where it ran
      console.log(`[packaging] npm install -g tunmail: ${r.ms} ms`);
    },
    INSTALL_TIMEOUT_MS,
  );
});
