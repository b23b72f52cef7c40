// `tun mail save`: attachments and the .eml written byte for byte under safe
// names, never over an existing file without --force.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SinkClient } from "../../client/index.js";
import { dedupe, safeFilename } from "../../protocol/safe-filename.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";
import { sendMail, uniqueAddress } from "../client/send-mail.js";
import { controlCharacters } from "./hostile-text.js";
import { runTun } from "./tun-process.js";

let sink: TestSink;
let client: SinkClient;
const dirs: string[] = [];
beforeAll(async () => {
  sink = await startTestSink();
  client = new SinkClient(sink.url);
});
afterAll(async () => {
  await sink?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tun-save-test-"));
  dirs.push(d);
  return d;
}

const save = (...args: string[]) => runTun(["mail", "save", ...args, "--sink", sink.url]);
/** Every byte value, twice: what a text-mode write or a charset conversion would change. */
const BINARY = Buffer.from([...Array(512).keys()].map((i) => i % 256));

describe("tun mail save", () => {
  test("writes every attachment byte for byte, or the ones named, or the .eml", async () => {
    const id = await sendMail(sink.smtpPort, {
      to: uniqueAddress("save"),
      subject: "files",
      text: "see attached",
      attachments: [
        { filename: "data.bin", content: BINARY, contentType: "application/octet-stream" },
        { filename: "notes.txt", content: "line one\r\nline two\n" },
      ],
    });
    const [bin, txt] = (await client.get(id)).attachments;

    const all = tempDir();
    const r = await save(id, "-o", all);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${join(all, "data.bin")}\n${join(all, "notes.txt")}\n`);
    expect(readFileSync(join(all, "data.bin")).equals(BINARY)).toBe(true);
    expect(readFileSync(join(all, "notes.txt"), "latin1")).toBe("line one\r\nline two\n");
    expect(readFileSync(join(all, "data.bin")).equals(await client.attachment(id, bin!.id))).toBe(true);

    const one = tempDir();
    expect(await save(id, txt!.id, "--output", one)).toMatchObject({ code: 0 });
    expect(readdirSync(one)).toEqual(["notes.txt"]);

    const eml = tempDir();
    expect(await save(id, "--eml", "-o", eml)).toMatchObject({
      code: 0,
      stdout: `${join(eml, `${id}.eml`)}\n`,
    });
    expect(readFileSync(join(eml, `${id}.eml`)).equals(await client.raw(id))).toBe(true);
  });

  test("refuses to overwrite without --force, writing nothing; --force overwrites", async () => {
    const id = await sendMail(sink.smtpPort, {
      to: uniqueAddress("force"),
      subject: "files",
      text: "x",
      attachments: [
        { filename: "a.txt", content: "new a" },
        { filename: "b.txt", content: "new b" },
      ],
    });
    const dir = tempDir();
    writeFileSync(join(dir, "b.txt"), "mine");
    const refused = await save(id, "-o", dir);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toBe(`tun: ${join(dir, "b.txt")} already exists; pass --force to overwrite\n`);
    expect(readFileSync(join(dir, "b.txt"), "utf8")).toBe("mine");
    expect(existsSync(join(dir, "a.txt"))).toBe(false);

    expect((await save(id, "-o", dir, "--force")).code).toBe(0);
    expect(readFileSync(join(dir, "a.txt"), "utf8")).toBe("new a");
    expect(readFileSync(join(dir, "b.txt"), "utf8")).toBe("new b");
  });

  test("hostile names become safe files inside the folder, deduplicated", async () => {
    const id = await sendMail(sink.smtpPort, {
      to: uniqueAddress("names"),
      subject: "names",
      text: "x",
      attachments: [
        { filename: "../../escape.txt", content: "1" },
        { filename: ".bashrc", content: "2" },
        { filename: "evil\u001b]52;c;aGk=\u0007\u202egnp.exe", content: "3" },
        { filename: "report.pdf", content: "4" },
        { filename: "report.pdf", content: "5" },
      ],
    });
    const dir = tempDir();
    const r = await save(id, "-o", dir);
    expect(r.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(
      ["_.._escape.txt", "bashrc", "evil_]52;c;aGk=__gnp.exe", "report.pdf", "report (2).pdf"].sort(),
    );
    expect(readFileSync(join(dir, "report (2).pdf"), "utf8")).toBe("5");
    expect(controlCharacters(r.stdout)).toEqual([]);
    expect(existsSync(join(dir, "..", "escape.txt"))).toBe(false);
  });

  test("unknown attachment ids, no attachments, and --eml with ids are one-line errors", async () => {
    const id = await sendMail(sink.smtpPort, { to: uniqueAddress("none"), subject: "plain", text: "x" });
    const dir = tempDir();
    expect(await save(id, "-o", dir)).toMatchObject({
      code: 1,
      stderr: `tun: message ${id} has no attachments; save the whole message with --eml\n`,
    });
    expect(await save(id, "7", "-o", dir)).toMatchObject({
      code: 1,
      stderr: `tun: message ${id} has no attachment 7; see the ids with: tun mail show ${id}\n`,
    });
    expect(await save(id, "1", "--eml", "-o", dir)).toMatchObject({
      code: 2,
      stderr: "tun: --eml saves the whole message: leave out the attachment ids, or drop --eml\n",
    });
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("safeFilename", () => {
  test.each([
    ["../../x", "_.._x"],
    ["..", "fallback"],
    ["", "fallback"],
    [null, "fallback"],
    ["  .hidden  ", "hidden"],
    ["a\\b/c", "a_b_c"],
    ["nul\u0000\u009b", "nul__"],
    ["ok.tar.gz", "ok.tar.gz"],
  ])("%j -> %j", (name, expected) => {
    expect(safeFilename(name, "fallback")).toBe(expected);
  });

  test("long names are cut to 255 bytes, keeping the extension and whole characters", () => {
    const name = safeFilename("é".repeat(300) + ".pdf", "x");
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name.endsWith("é.pdf")).toBe(true);
  });

  test("dedupe numbers repeats before the extension", () => {
    expect(dedupe(["a.txt", "a.txt", "b", "a.txt", "b"])).toEqual([
      "a.txt",
      "a (2).txt",
      "b",
      "a (3).txt",
      "b (2)",
    ]);
  });
});
