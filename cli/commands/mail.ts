// `tun mail …`: list, show, fetch, open, wait for and delete captured messages.
import type { ArgumentsCamelCase, Argv } from "yargs";
import type { Message, Summary } from "../../protocol/wire.js";
import { parseDurationMs } from "../../protocol/values.js";
import { SinkClient } from "@tunmail/client";
import type { CommandModule } from "../command.js";
import { UsageError, UserError } from "../errors.js";
import { useColor } from "../watch/color.js";
import { formatAddress, formatMessage, formatSize } from "../watch/render.js";
import { addressPatterns, asUserError, sinkUrl, withSinkOption } from "../watch/sink-access.js";

/** Rows `tun mail ls` shows unless --limit says otherwise. */
const LS_DEFAULT_LIMIT = 20;
/** Column caps in the ls table, in characters. */
const LS_FROM_CHARS = 32;
const LS_TO_CHARS = 36;
/** How long `tun mail open` waits for xdg-open/open to report failure before assuming the browser started. */
const OPENER_WAIT_MS = 3_000;

type Args = ArgumentsCamelCase<Record<string, unknown>>;

function client(argv: Args): SinkClient {
  return new SinkClient(sinkUrl(argv.sink));
}

/** Runs a subcommand, turning client errors into one-line user errors. */
function run(fn: (argv: Args) => Promise<void>, ids?: (argv: Args) => string | undefined) {
  return async (argv: Args): Promise<void> => {
    try {
      await fn(argv);
    } catch (err) {
      throw asUserError(err, { id: ids?.(argv) });
    }
  };
}

function idArg(y: Argv): Argv {
  return y.positional("id", { type: "string", describe: "Message id (from tun mail ls)" });
}

function out(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
}

// ---- ls ----------------------------------------------------------------------

async function ls(argv: Args): Promise<void> {
  const limit = argv.limit === undefined ? LS_DEFAULT_LIMIT : Number(argv.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new UsageError(`--limit: expected a whole number of at least 1, got "${String(argv.limit)}"`);
  }
  const [to] = addressPatterns("to", argv.to);
  const [from] = addressPatterns("from", argv.from);
  const subject = argv.subject === undefined ? undefined : String(argv.subject);
  const list = await client(argv).list({ to, from, subject, limit });
  if (argv.json) {
    for (const m of list.messages) out(JSON.stringify(m));
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
    clip(m.from ? m.from.address : m.envelope.from || "<>", LS_FROM_CHARS),
    clip(recipients(m), LS_TO_CHARS),
    formatSize(m.size) + (m.attachmentCount ? ` +${m.attachmentCount} att` : ""),
    m.subject || "(no subject)",
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

function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const two = (n: number): string => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
  );
}

// ---- show / raw / open -------------------------------------------------------

async function show(argv: Args): Promise<void> {
  const m = await client(argv).get(String(argv.id));
  const rows: [string, string][] = [
    ["ID", m.id],
    ["Received", `${localTime(m.receivedAt)} from ${m.remoteIp} (HELO ${m.heloName}${m.tls ? ", TLS" : ""})`],
    ["Envelope", `from <${m.envelope.from}> to ${m.envelope.to.map((a) => `<${a}>`).join(", ")}`],
    ["From", m.from ? formatAddress(m.from) : "(none)"],
    ["To", m.to.map(formatAddress).join(", ") || "(none)"],
  ];
  if (m.cc.length) rows.push(["Cc", m.cc.map(formatAddress).join(", ")]);
  rows.push(["Subject", m.subject || "(no subject)"]);
  if (m.date) rows.push(["Date", m.date]);
  if (m.messageId) rows.push(["Message-ID", m.messageId]);
  for (const a of m.attachments) {
    const kind = a.inline ? "inline " : "";
    rows.push([
      "Attachment",
      `${a.filename ?? "(unnamed)"} (${kind}${a.contentType}, ${formatSize(a.size)})`,
    ]);
  }
  const pad = Math.max(...rows.map(([k]) => k.length)) + 1;
  out(rows.map(([k, v]) => `${(k + ":").padEnd(pad)} ${v}`).join("\n"));
  out("");
  out(bodyText(m));
}

function bodyText(m: Message): string {
  if (m.text?.trim()) return m.text;
  if (m.html) return `(HTML only: tun mail open ${m.id})`;
  return "(no text body)";
}

async function raw(argv: Args): Promise<void> {
  const bytes = await client(argv).raw(String(argv.id));
  await new Promise<void>((resolve, reject) =>
    process.stdout.write(bytes, (err) => (err ? reject(err) : resolve())),
  );
}

async function open(argv: Args): Promise<void> {
  const c = client(argv);
  const m = await c.get(String(argv.id));
  if (!m.html) {
    throw new UserError(`message ${m.id} has no HTML part; see its text with: tun mail show ${m.id}`);
  }
  const { mkdtemp, writeFile } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = await mkdtemp(join(tmpdir(), "tun-mail-"));
  const file = join(dir, `${m.id}.html`);
  await writeFile(file, withInlineImages(m, c.url), "utf8");
  const failure = await startBrowser(file);
  out(file);
  if (failure)
    process.stderr.write(`[mail] could not start a browser (${failure}); open the file above yourself\n`);
}

/** Points `cid:` references at the sink's attachment URLs so inline images show in the saved page. */
function withInlineImages(m: Message, base: string): string {
  let html = m.html ?? "";
  for (const a of m.attachments) {
    if (!a.contentId) continue;
    const cid = a.contentId.replace(/^<|>$/g, "");
    const url = `${base}/api/v1/messages/${encodeURIComponent(m.id)}/attachments/${encodeURIComponent(a.id)}`;
    html = html.split(`cid:${cid}`).join(url);
  }
  return html;
}

/** Null when the opener started (or is still running after a while), else why it failed. */
async function startBrowser(file: string): Promise<string | null> {
  const { spawn } = await import("node:child_process");
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

// ---- wait / rm / clear -------------------------------------------------------

async function wait(argv: Args): Promise<void> {
  const [to] = addressPatterns("to", argv.to);
  if (!to) throw new UsageError("--to: say which address or @domain to wait for");
  const [from] = addressPatterns("from", argv.from);
  const timeoutMs = parseDurationMs(String(argv.timeout));
  if (timeoutMs === null || timeoutMs <= 0) {
    throw new UsageError(`--timeout: expected a duration like 30, 90s or 5m, got "${String(argv.timeout)}"`);
  }
  // the client refuses undefined filter values (they would widen the filter): only set what was given
  const m = await client(argv).waitFor({
    to,
    ...(from !== undefined && { from }),
    ...(argv.subject !== undefined && { subject: String(argv.subject) }),
    ...(argv.since !== undefined && { since: String(argv.since) }),
    timeoutMs,
  });
  out(argv.json ? JSON.stringify(m) : formatMessage(m, { color: useColor(process.stdout) }));
}

async function rm(argv: Args): Promise<void> {
  const ids = (argv.ids as unknown[]).map(String);
  const c = client(argv);
  const missing: string[] = [];
  let deleted = 0;
  for (const id of ids) {
    try {
      deleted += (await c.delete({ id })).deleted;
    } catch (err) {
      const mapped = asUserError(err, { id });
      if (!(mapped instanceof UserError) || !mapped.message.startsWith("no message with id")) throw err;
      missing.push(id);
    }
  }
  out(`deleted ${plural(deleted, "message")}`);
  if (missing.length)
    throw new UserError(`no message with id ${missing.join(", ")} in the sink (see tun mail ls)`);
}

async function clear(argv: Args): Promise<void> {
  const [to] = addressPatterns("to", argv.to);
  const { deleted } = await (to ? client(argv).delete({ to }) : client(argv).delete());
  out(`deleted ${plural(deleted, "message")}${to ? ` to ${to}` : ""}`);
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

const single = (describe: string) => ({ type: "string" as const, requiresArg: true, describe });

const command: CommandModule = {
  command: "mail",
  describe: "List, show, wait for and delete captured messages",
  builder: (y) =>
    withSinkOption(y)
      .command(
        "ls",
        "List messages, newest first",
        (s) =>
          s
            .option("to", single("Only messages to this address or @domain"))
            .option("from", single("Only messages from this address or @domain"))
            .option("subject", single("Only subjects containing this (case-insensitive)"))
            .option("limit", {
              type: "number",
              requiresArg: true,
              describe: `At most N (default ${LS_DEFAULT_LIMIT})`,
            })
            .option("json", { type: "boolean", default: false, describe: "One JSON summary per line" }),
        run(ls),
      )
      .command(
        "show <id>",
        "Headers and text body of a message",
        idArg,
        run(show, (a) => String(a.id)),
      )
      .command(
        "raw <id>",
        "The raw message, byte for byte, to stdout",
        idArg,
        run(raw, (a) => String(a.id)),
      )
      .command(
        "open <id>",
        "Open the HTML part in a browser; prints its path",
        idArg,
        run(open, (a) => String(a.id)),
      )
      .command(
        "wait",
        "Wait for a message to arrive; exit 1 on timeout",
        (s) =>
          s
            .option("to", { ...single("Address or @domain to wait for"), demandOption: true })
            .option("subject", single("Subject contains this (case-insensitive)"))
            .option("from", single("From this address or @domain"))
            .option("since", single("Only messages after this id or ISO time"))
            .option("timeout", { ...single("Give up after this long (seconds, or 90s, 5m)"), default: "30" })
            .option("json", { type: "boolean", default: false, describe: "Print the message as JSON" }),
        run(wait),
      )
      .command(
        "rm <ids..>",
        "Delete messages by id",
        (s) => s.positional("ids", { type: "string", describe: "Message ids" }),
        run(rm),
      )
      .command(
        "clear",
        "Delete all messages, or those to --to",
        (s) => s.option("to", single("Only messages to this address or @domain")),
        run(clear),
      )
      .demandCommand(1, "Name a mail command: ls, show, raw, open, wait, rm or clear."),
  handler: () => undefined,
};
export default command;
