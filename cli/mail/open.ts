// `tun mail open`: writes the message's HTML as a safe page (safe-page.ts)
// to a private temp folder, prints its path, and hands it to the browser.
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SinkClient } from "@tunmail/client";
import type { Message } from "../../protocol/wire.js";
import { UserError } from "../errors.js";
import { client, out, type Args } from "./context.js";

/** How long `tun mail open` waits for xdg-open/open to report failure before assuming the browser started. */
const OPENER_WAIT_MS = 3_000;
/** Inline images larger than this are left out of the page rather than inlined as data: URIs. */
export const MAX_INLINE_IMAGE_BYTES = 5 * 1024 * 1024;
/** Image types inlined; anything else named by a cid: link is left out. */
const IMAGE_TYPE = /^image\/[a-z0-9.+-]+$/i;

export async function open(argv: Args): Promise<void> {
  const sink = client(argv);
  const m = await sink.get(String(argv.id));
  if (!m.html) {
    throw new UserError(`message ${m.id} has no HTML part; see its text with: tun mail show ${m.id}`);
  }
  // The sanitiser (and postcss under it) loads only here, not for every `tun mail` command.
  const { safePage } = await import("./safe-page.js");
  const page = safePage(m.html, {
    remoteImages: argv.remoteImages === true,
    inlineImages: await inlineImages(sink, m),
    title: m.subject,
  });
  const dir = await mkdtemp(join(tmpdir(), "tun-mail-"));
  const file = join(dir, `${m.id}.html`);
  await writeFile(file, page, { encoding: "utf8", mode: 0o600 });
  const failure = await startBrowser(file);
  out(file);
  if (failure)
    process.stderr.write(`[mail] could not start a browser (${failure}); open the file above yourself\n`);
}

/** data: URIs of the images the HTML names by cid:, keyed by content id. */
async function inlineImages(sink: SinkClient, m: Message): Promise<Map<string, string>> {
  const images = new Map<string, string>();
  for (const a of m.attachments) {
    if (!a.contentId || !IMAGE_TYPE.test(a.contentType) || a.size > MAX_INLINE_IMAGE_BYTES) continue;
    if (!m.html!.includes(`cid:${a.contentId}`) && !m.html!.includes(`cid:${encodeURI(a.contentId)}`))
      continue;
    const bytes = await sink.attachment(m.id, a.id);
    images.set(a.contentId, `data:${a.contentType.toLowerCase()};base64,${bytes.toString("base64")}`);
  }
  return images;
}

/** Null when the opener started (or is still running after a while), else why it failed. */
function startBrowser(file: string): Promise<string | null> {
  const opener = process.platform === "darwin" ? "open" : "xdg-open";
  return new Promise((resolve) => {
    const child = spawn(opener, [file], { stdio: "ignore", detached: true });
    const timer = setTimeout(() => {
      child.unref();
      resolve(null);
    }, OPENER_WAIT_MS);
    child.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === "ENOENT" ? `${opener} not found` : `${opener}: ${err.message}`);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? null : `${opener} exited with code ${code}`);
    });
  });
}
