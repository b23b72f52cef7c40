// The contract between the delivery queue and the payload formats: a format
// turns one parsed message into the bytes of one HTTP POST, and says what an
// answer status means to the provider it imitates.
import type { MailParts } from "./mail-parts.js";

export const FORMAT_NAMES = ["raw", "sendgrid", "sendgrid-raw", "mailgun", "postmark", "ses"] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];

export function isFormatName(value: string): value is FormatName {
  return (FORMAT_NAMES as readonly string[]).includes(value);
}

export interface Payload {
  body: Buffer;
  contentType: string;
  /** Extra request headers the provider sends (e.g. SNS's x-amz-sns-*). */
  headers: Record<string, string>;
}

/**
 * What an HTTP answer means: `delivered` (done), `retry` (try again later),
 * `stopped` (the provider's "do not retry" code) or `rejected` (a status the
 * provider treats as a permanent failure).
 */
export type Verdict = "delivered" | "retry" | "stopped" | "rejected";

export interface FormatContext {
  /** The target URL (Mailgun switches to raw MIME when its path ends in "mime"). */
  url: URL;
  /** Mailgun's HTTP webhook signing key, when given. */
  signingKey: string | undefined;
  now: Date;
}

export interface PayloadFormat {
  encode(mail: MailParts, ctx: FormatContext): Promise<Payload>;
  verdict(status: number): Verdict;
}

/** The serialised multipart/form-data body and its Content-Type (with boundary), as fetch would send it. */
export async function formBody(form: FormData): Promise<{ body: Buffer; contentType: string }> {
  const encoded = new Response(form);
  return {
    body: Buffer.from(await encoded.arrayBuffer()),
    contentType: encoded.headers.get("content-type")!,
  };
}

/** A file part whose bytes are exactly `content`. */
export function filePart(content: Buffer, contentType: string): Blob {
  return new Blob([content], { type: contentType });
}

export function is2xx(status: number): boolean {
  return status >= 200 && status < 300;
}

/** Retry on 5xx, 408 and 429; any other non-2xx is a permanent failure. */
export function retryServerErrors(status: number): Verdict {
  if (is2xx(status)) return "delivered";
  if (status >= 500 || status === 408 || status === 429) return "retry";
  return "rejected";
}

/** Retry every non-2xx answer except the provider's stop code. */
export function retryAllBut(stopCode: number): (status: number) => Verdict {
  return (status) => (is2xx(status) ? "delivered" : status === stopCode ? "stopped" : "retry");
}
