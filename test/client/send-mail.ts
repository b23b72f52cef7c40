// Sends test mail to a sink's SMTP port with nodemailer, the way an app under test would.
import nodemailer from "nodemailer";

export interface TestMail {
  to: string | string[];
  from?: string;
  subject: string;
  text?: string;
  html?: string;
  attachments?: { filename: string; content: Buffer | string; contentType?: string; cid?: string }[];
}

export async function sendMail(smtpPort: number, mail: TestMail): Promise<string> {
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: smtpPort,
    secure: false,
    ignoreTLS: true,
  });
  try {
    const info = await transport.sendMail({ from: "Shop <noreply@shop.test>", ...mail });
    // The sink names the stored id in its 250 reply: "250 2.0.0 Ok: queued as <id>".
    const id = /queued as (\S+)/.exec(info.response)?.[1];
    if (!id) throw new Error(`the sink's reply named no message id: ${info.response}`);
    return id;
  } finally {
    transport.close();
  }
}

/** A recipient no other test (or parallel run) uses. */
export function uniqueAddress(tag: string, domain = "example.test"): string {
  return `${tag}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@${domain}`;
}
