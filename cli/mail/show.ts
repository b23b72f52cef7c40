// `tun mail show` (headers, attachments with their ids, text body) and
// `tun mail raw` (the exact bytes).
import { printable, printableBody } from "../../protocol/printable.js";
import type { Message } from "../../protocol/wire.js";
import { formatAddress, formatSize } from "../watch/render.js";
import { client, localTime, out, type Args } from "./context.js";

export async function show(argv: Args): Promise<void> {
  const c = client(argv);
  const [m, extracted] = await Promise.all([c.get(String(argv.id)), c.extract(String(argv.id))]);
  const envelopeTo = m.envelope.to.map((a) => `<${a}>`).join(", ");
  const rows: [string, string][] = [
    ["ID", m.id],
    [
      "Received",
      `${localTime(m.receivedAt)} from ${printable(m.remoteIp)} (HELO ${printable(m.heloName)}${m.tls ? ", TLS" : ""})`,
    ],
    ["Envelope", printable(`from <${m.envelope.from}> to ${envelopeTo}`)],
    ["From", m.from ? formatAddress(m.from) : "(none)"],
    ["To", m.to.map(formatAddress).join(", ") || "(none)"],
  ];
  if (m.cc.length) rows.push(["Cc", m.cc.map(formatAddress).join(", ")]);
  rows.push(["Subject", m.subject ? printable(m.subject) : "(no subject)"]);
  // the most likely one-time code (the sink's /extract), for a quick copy
  if (extracted.codes[0]) rows.push(["Code", printable(extracted.codes[0])]);
  if (m.date) rows.push(["Date", printable(m.date)]);
  if (m.messageId) rows.push(["Message-ID", printable(m.messageId)]);
  // The id is what `tun mail save <id> <attachment-id>` takes.
  for (const a of m.attachments) {
    const kind = a.inline ? "inline " : "";
    rows.push([
      `Attachment ${printable(a.id)}`,
      printable(`${a.filename ?? "(unnamed)"} (${kind}${a.contentType}, ${formatSize(a.size)})`),
    ]);
  }
  const pad = Math.max(...rows.map(([k]) => k.length)) + 1;
  out(rows.map(([k, v]) => `${(k + ":").padEnd(pad)} ${v}`).join("\n"));
  out("");
  out(bodyText(m));
}

function bodyText(m: Message): string {
  if (m.text?.trim()) return printableBody(m.text);
  if (m.html) return `(HTML only: tun mail open ${m.id})`;
  return "(no text body)";
}

export async function raw(argv: Args): Promise<void> {
  const bytes = await client(argv).raw(String(argv.id));
  // Byte for byte into a pipe or file; on a terminal the mail's control
  // characters would reach it, so it gets the printable text instead.
  const data = process.stdout.isTTY ? printableBody(bytes.toString("utf8")) : bytes;
  await new Promise<void>((resolve, reject) =>
    process.stdout.write(data, (err) => (err ? reject(err) : resolve())),
  );
}
