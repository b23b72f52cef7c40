// `tun mail ls`: summaries newest first, as a table or NDJSON.
import { printable, printableJson } from "../../protocol/printable.js";
import type { Summary } from "../../protocol/wire.js";
import { UsageError } from "../errors.js";
import { formatSize } from "../watch/render.js";
import { client, localTime, out, type Args } from "./context.js";
import { listFilter } from "./filter-flags.js";
import { LS_DEFAULT_LIMIT } from "./options.js";

/** Column caps in the ls table, in characters. */
const LS_FROM_CHARS = 32;
const LS_TO_CHARS = 36;

export async function ls(argv: Args): Promise<void> {
  const limit = argv.limit === undefined ? LS_DEFAULT_LIMIT : Number(argv.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new UsageError(`--limit: expected a whole number of at least 1, got "${String(argv.limit)}"`);
  }
  const list = await client(argv).list({ ...listFilter(argv), limit });
  if (argv.json) {
    for (const m of list.messages) out(printableJson(m));
    return;
  }
  if (!list.messages.length) {
    out("no messages");
    return;
  }
  out(table(list.messages, process.stdout.isTTY ? process.stdout.columns : undefined));
  if (list.total > list.messages.length) {
    process.stderr.write(`[mail] ${list.messages.length} of ${list.total} shown; --limit N shows more\n`);
  }
}

function table(rows: Summary[], width: number | undefined): string {
  const cells = rows.map((m) => [
    m.id,
    localTime(m.receivedAt),
    clip(printable(m.from ? m.from.address : m.envelope.from || "<>"), LS_FROM_CHARS),
    clip(printable(recipients(m)), LS_TO_CHARS),
    formatSize(m.size) + (m.attachmentCount ? ` +${m.attachmentCount} att` : ""),
    m.subject ? printable(m.subject) : "(no subject)",
  ]);
  const header = ["ID", "RECEIVED", "FROM", "TO", "SIZE", "SUBJECT"];
  const all = [header, ...cells];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all
    .map((r) => {
      const line = r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
      // On a terminal, cut the subject rather than wrap the table.
      return width && line.length > width ? line.slice(0, Math.max(width - 1, 0)) + "…" : line;
    })
    .join("\n");
}

function recipients(m: Summary): string {
  const list = m.to.length ? m.to.map((a) => a.address) : m.envelope.to;
  return list.length > 1 ? `${list[0]} +${list.length - 1}` : (list[0] ?? "");
}

function clip(s: string, max: number): string {
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}
