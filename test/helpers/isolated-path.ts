// A PATH that holds only a folder the test made, so a test never depends on
// what the machine happens to have installed (an `xdg-open` next to `node` in
// /usr/bin, a missing `az`, …). The folder gets a link to the running `node`
// and whatever stand-in programs the test asks for.
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface IsolatedPath {
  /** The folder; the whole PATH. */
  dir: string;
  /** `{ PATH: dir }`, to spread into a child's environment. */
  env: { PATH: string };
  remove(): void;
}

/** `programs` maps a name to a shell script body (run by /bin/sh, which needs no PATH). */
export function isolatedPath(programs: Record<string, string> = {}): IsolatedPath {
  const dir = mkdtempSync(join(tmpdir(), "tun-test-path-"));
  symlinkSync(process.execPath, join(dir, "node"));
  for (const [name, body] of Object.entries(programs)) {
    const file = join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
  }
  return { dir, env: { PATH: dir }, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
