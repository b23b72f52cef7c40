// Format "ses": Amazon SES email receiving with an SNS action, delivered by an
// SNS HTTP(S) subscription. The inner document follows
// https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html
// (notificationType "Received", `mail`, `receipt`, and `content`: the raw
// message, base64 as with the action's BASE64 encoding); the outer one is the
// SNS HTTP notification, https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html
// (Type "Notification", Message = the SES JSON as a string, text/plain body,
// x-amz-sns-* headers). Not reproduced: SNS's Signature and SigningCertURL
// (they need AWS's private key; the fields are empty, so an app must skip
// signature validation for tun) and SES's spam/virus/SPF/DKIM/DMARC checks
// (reported as "GRAY", SES's "could not be determined"). SNS retries 5xx
// (and 408/429) answers and counts other 4xx as permanent failures.
import { createHash } from "node:crypto";
import type { MailParts } from "./mail-parts.js";
import { retryServerErrors, type Payload, type PayloadFormat } from "./payload.js";

/** A topic ARN in a placeholder account (000000000000), region and topic name stated in docs/inbound.md. */
export const SES_TOPIC_ARN = "arn:aws:sns:us-east-1:000000000000:tun-inbound";
const NOT_CHECKED = { status: "GRAY" };

function uuidFrom(seed: string): string {
  const h = createHash("sha256").update(seed).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function headerValues(mail: MailParts, name: string): string[] {
  return mail.headers.filter((h) => h.name.toLowerCase() === name).map((h) => h.value);
}

export function sesReceipt(mail: MailParts) {
  const common: Record<string, unknown> = {
    returnPath: mail.envelopeFrom,
    from: headerValues(mail, "from"),
    date: mail.dateHeader,
    to: headerValues(mail, "to"),
    messageId: mail.messageIdHeader,
    subject: mail.subject,
  };
  const cc = headerValues(mail, "cc");
  if (cc.length) common.cc = cc;
  return {
    notificationType: "Received",
    mail: {
      timestamp: mail.receivedAt,
      source: mail.envelopeFrom,
      // SES names a received message by a lowercase id; the sink's ULID serves.
      messageId: mail.id.toLowerCase(),
      destination: mail.envelopeTo,
      headersTruncated: false,
      headers: mail.headers.map((h) => ({ name: h.name, value: h.value })),
      commonHeaders: common,
    },
    receipt: {
      timestamp: mail.receivedAt,
      processingTimeMillis: 0,
      recipients: mail.recipients,
      spamVerdict: NOT_CHECKED,
      virusVerdict: NOT_CHECKED,
      spfVerdict: NOT_CHECKED,
      dkimVerdict: NOT_CHECKED,
      dmarcVerdict: NOT_CHECKED,
      action: { type: "SNS", topicArn: SES_TOPIC_ARN, encoding: "BASE64" },
    },
    content: mail.raw.toString("base64"),
  };
}

export const sesFormat: PayloadFormat = {
  encode(mail: MailParts, ctx): Promise<Payload> {
    const snsId = uuidFrom(`tun-sns:${mail.id}`);
    const notification = {
      Type: "Notification",
      MessageId: snsId,
      TopicArn: SES_TOPIC_ARN,
      Subject: "Amazon SES Email Receipt Notification",
      Message: JSON.stringify(sesReceipt(mail)),
      Timestamp: ctx.now.toISOString(),
      SignatureVersion: "1",
      Signature: "",
      SigningCertURL: "",
      UnsubscribeURL: "",
    };
    return Promise.resolve({
      body: Buffer.from(JSON.stringify(notification), "utf8"),
      contentType: "text/plain; charset=UTF-8",
      headers: {
        "x-amz-sns-message-type": "Notification",
        "x-amz-sns-message-id": snsId,
        "x-amz-sns-topic-arn": SES_TOPIC_ARN,
        "x-amz-sns-subscription-arn": `${SES_TOPIC_ARN}:${uuidFrom("tun-subscription")}`,
      },
    });
  },
  verdict: retryServerErrors,
};
