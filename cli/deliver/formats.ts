// The payload formats by name, for the flags and for replay.
import { mailgunFormat } from "./mailgun.js";
import type { FormatName, PayloadFormat } from "./payload.js";
import { postmarkFormat } from "./postmark.js";
import { rawFormat } from "./raw.js";
import { sendgridFormat, sendgridRawFormat } from "./sendgrid.js";
import { sesFormat } from "./ses.js";

const FORMATS: Record<FormatName, PayloadFormat> = {
  raw: rawFormat,
  sendgrid: sendgridFormat,
  "sendgrid-raw": sendgridRawFormat,
  mailgun: mailgunFormat,
  postmark: postmarkFormat,
  ses: sesFormat,
};

export function payloadFormat(name: FormatName): PayloadFormat {
  return FORMATS[name];
}
