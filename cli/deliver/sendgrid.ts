// Format "sendgrid" and "sendgrid-raw": SendGrid Inbound Parse Webhook,
// https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/inbound-email
// (the "Default parameters" and "Raw parameters" tables). A multipart/form-data
// POST; attachments are file parts attachment1..N described by the JSON
// `attachment-info`, inline parts mapped by `content-ids`. Text fields are
// sent as UTF-8, which `charsets` states. SendGrid's own checks (SPF, dkim,
// spam_score, spam_report) are not reproduced: the sink does not run them, so
// those fields are absent rather than invented. SendGrid retries a 5xx answer
// and treats any other non-2xx as a failure it does not retry.
import type { MailParts } from "./mail-parts.js";
import { filePart, formBody, retryServerErrors, type Payload, type PayloadFormat } from "./payload.js";

function envelope(mail: MailParts): string {
  return JSON.stringify({ to: mail.recipients, from: mail.envelopeFrom });
}

/** The fields both variants carry, in the order SendGrid posts them. */
function common(form: FormData, mail: MailParts, textFields: string[]): void {
  form.append("to", mail.toText);
  if (mail.ccText) form.append("cc", mail.ccText);
  form.append("from", mail.fromText);
  form.append("subject", mail.subject);
  form.append("sender_ip", mail.remoteIp);
  form.append("envelope", envelope(mail));
  form.append("charsets", JSON.stringify(Object.fromEntries(textFields.map((f) => [f, "UTF-8"]))));
}

async function parsed(mail: MailParts): Promise<Payload> {
  const form = new FormData();
  form.append("headers", mail.headerBlock);
  const textFields = ["to", "from", "subject"];
  if (mail.ccText) textFields.push("cc");
  const contentIds: Record<string, string> = {};
  const info: Record<string, Record<string, string>> = {};
  mail.attachments.forEach((a, i) => {
    const key = `attachment${i + 1}`;
    info[key] = { filename: a.filename, name: a.filename, type: a.contentType };
    if (a.contentId) {
      info[key]!["content-id"] = a.contentId;
      contentIds[a.contentId] = key;
    }
  });
  if (Object.keys(contentIds).length) form.append("content-ids", JSON.stringify(contentIds));
  if (mail.html !== null) {
    form.append("html", mail.html);
    textFields.push("html");
  }
  if (mail.text !== null) {
    form.append("text", mail.text);
    textFields.push("text");
  }
  common(form, mail, textFields);
  form.append("attachments", String(mail.attachments.length));
  if (mail.attachments.length) form.append("attachment-info", JSON.stringify(info));
  mail.attachments.forEach((a, i) => {
    form.append(`attachment${i + 1}`, filePart(a.content, a.contentType), a.filename);
  });
  const { body, contentType } = await formBody(form);
  return { body, contentType, headers: {} };
}

/** "Send Raw" enabled: the full message in `email` instead of parsed bodies and attachments. */
async function raw(mail: MailParts): Promise<Payload> {
  const form = new FormData();
  form.append("email", mail.raw.toString("utf8"));
  const textFields = ["to", "from", "subject"];
  if (mail.ccText) textFields.push("cc");
  common(form, mail, textFields);
  const { body, contentType } = await formBody(form);
  return { body, contentType, headers: {} };
}

export const sendgridFormat: PayloadFormat = { encode: parsed, verdict: retryServerErrors };
export const sendgridRawFormat: PayloadFormat = { encode: raw, verdict: retryServerErrors };
