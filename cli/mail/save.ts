// `tun mail save <id> [<attachment-id>…] [-o DIR] [--eml] [--force]`: writes
// attachments (all of them unless ids are given), or the raw message, byte for
// byte under safe file names. Nothing is overwritten without --force, and
// every name is checked before the first byte is written.
import { mkdir, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { printable } from "../../protocol/printable.js";
import { EXIT_FAILURE, UsageError, UserError } from "../errors.js";
import { client, out, plural, type Args } from "./context.js";
import { dedupe, safeFilename } from "../../protocol/safe-filename.js";

interface Planned {
  name: string;
  read: () => Promise<Buffer>;
}

export async function save(argv: Args): Promise<void> {
  const id = String(argv.id);
  const wanted = ((argv.attachments as unknown[] | undefined) ?? []).map(String);
  if (argv.eml && wanted.length) {
    throw new UsageError("--eml saves the whole message: leave out the attachment ids, or drop --eml");
  }
  const sink = client(argv);
  const m = await sink.get(id);
  let plan: Planned[];
  if (argv.eml) {
    plan = [{ name: safeFilename(`${m.id}.eml`, "message.eml"), read: () => sink.raw(m.id) }];
  } else {
    const unknown = wanted.filter((w) => !m.attachments.some((a) => a.id === w));
    if (unknown.length) {
      throw new UserError(
        `message ${m.id} has no attachment ${printable(unknown.join(", "))}; see the ids with: tun mail show ${m.id}`,
      );
    }
    const chosen = wanted.length ? m.attachments.filter((a) => wanted.includes(a.id)) : m.attachments;
    if (!chosen.length) {
      throw new UserError(`message ${m.id} has no attachments; save the whole message with --eml`);
    }
    const names = dedupe(chosen.map((a) => safeFilename(a.filename, `attachment-${a.id}`)));
    plan = chosen.map((a, i) => ({ name: names[i]!, read: () => sink.attachment(m.id, a.id) }));
  }

  const dir = resolve(argv.o === undefined ? "." : String(argv.o));
  const force = argv.force === true;
  if (!force) {
    const existing = plan.filter((p) => existsSync(join(dir, p.name)));
    if (existing.length) {
      const what = existing.map((p) => join(dir, p.name)).join(", ");
      throw new UserError(`${printable(what)} already exists; pass --force to overwrite`, EXIT_FAILURE);
    }
  }
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw fileError(err, dir);
  }
  for (const p of plan) {
    const path = join(dir, p.name);
    try {
      // "wx" still refuses a file that appeared since the check above.
      await writeFile(path, await p.read(), { flag: force ? "w" : "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") {
        throw new UserError(`${printable(path)} already exists; pass --force to overwrite`);
      }
      throw fileError(err, path);
    }
    out(printable(path));
  }
  if (plan.length > 1)
    process.stderr.write(`[mail] saved ${plural(plan.length, "file")} in ${printable(dir)}\n`);
}

function fileError(err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "EACCES" || code === "EPERM")
    return new UserError(`cannot write ${printable(path)}: permission denied`);
  if (
    code === "ENOTDIR" ||
    code === "EISDIR" ||
    code === "EEXIST" ||
    code === "ENOENT" ||
    code === "ENOSPC"
  ) {
    return new UserError(`cannot write ${printable(path)}: ${(err as Error).message}`);
  }
  return err;
}
