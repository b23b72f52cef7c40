// Help reads well: wrapped to the terminal's width, or to 100 columns in a
// pipe, never inside a word; long defaults on a line of their own.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { runTun, TUN_BIN } from "./tun-process.js";

const PIPE_COLUMNS = 100;
const SCRIPT = "/usr/bin/script";

/** Help screens, with phrases from their texts that a mid-word wrap would break. */
const SCREENS: [string[], string[]][] = [
  [["--help"], ["Shorthand: tun <name> <port> (same as tun up <name> <port>)", "https://<name>.<domain>"]],
  [
    ["sink", "--help"],
    [
      "SMTP listener HOST:PORT [env TUN_SINK_SMTP] (default 127.0.0.1:2525)",
      "Largest message in bytes (e.g. 10485760 or 10MiB) [env TUN_SINK_MAX_MESSAGE_SIZE] (default 10MiB)",
      "[env TUN_SINK_PARSE_WORKERS] (default: cores - 1)",
    ],
  ],
  [["mail", "ls", "--help"], ["Only messages after this message id, or received at or after this ISO time"]],
  [["mail", "wait", "--help"], ["(default: only mail arriving after the command starts)"]],
  [["watch", "--help"], ["First replay the stored messages after this message id"]],
];

/** Text with every run of spaces, newlines and column padding made one space. */
const flat = (s: string): string => s.replace(/\s+/g, " ");

describe("in a pipe", () => {
  test.each(SCREENS)("tun %j wraps at 100 columns, between words", async (args, phrases) => {
    const r = await runTun(args, { COLUMNS: "300" });
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines.filter((l) => [...l].length > PIPE_COLUMNS)).toEqual([]);
    // Something is wrapped at all (else the width check proves nothing)…
    expect(lines.some((l) => [...l].length > PIPE_COLUMNS - 10)).toBe(true);
    // …and never inside a word.
    for (const phrase of phrases) expect(flat(r.stdout)).toContain(phrase);
  });

  test("the long default of --sink goes on its own line", async () => {
    const r = await runTun(["mail", "ls", "--help"]);
    expect(r.stdout).toMatch(/^ +--sink +Sink HTTP API URL *$/m);
    expect(r.stdout).toMatch(/^ +\(default: \$TUN_SINK_URL, else http:\/\/127\.0\.0\.1:8025\) +\[string\]$/m);
  });
});

test.skipIf(!existsSync(SCRIPT))("on a terminal it wraps to the terminal's width", async () => {
  const COLUMNS = 72;
  const cmd = `stty cols ${COLUMNS} -onlcr; exec '${process.execPath}' '${TUN_BIN}' sink --help`;
  const child = spawn(SCRIPT, ["-qfec", cmd, "/dev/null"], {
    env: { ...process.env, SHELL: "/bin/sh", TERM: "xterm" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  const code = await new Promise<number | null>((r) => child.once("close", r));
  expect(code).toBe(0);
  const lines = out.split("\n");
  expect(lines.filter((l) => [...l].length > COLUMNS)).toEqual([]);
  expect(lines.some((l) => [...l].length > COLUMNS - 8)).toBe(true);
  expect(flat(out)).toContain(
    "Largest message in bytes (e.g. 10485760 or 10MiB) [env TUN_SINK_MAX_MESSAGE_SIZE]",
  );
});
