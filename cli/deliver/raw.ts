// Format "raw": the message exactly as the sink received it, as
// `message/rfc822` (RFC 2046 §5.2.1), for apps that parse MIME themselves.
// No provider page: this is tun's own format. The SMTP envelope, which the
// bytes do not contain, rides in X-Tun-Envelope-From / X-Tun-Envelope-To.
import type { MailParts } from "./mail-parts.js";
import { retryServerErrors, type Payload, type PayloadFormat } from "./payload.js";

export const rawFormat: PayloadFormat = {
  encode(mail: MailParts): Promise<Payload> {
    return Promise.resolve({
      body: mail.raw,
      contentType: "message/rfc822",
      headers: {
        "X-Tun-Envelope-From": headerSafe(mail.envelopeFrom),
        "X-Tun-Envelope-To": headerSafe(mail.recipients.join(", ")),
      },
    });
  },
  verdict: retryServerErrors,
};

/** HTTP header values must be printable ASCII; an SMTPUTF8 address is percent-encoded (RFC 3986) instead. */
function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURI(value);
}
