// Attachment downloads share work: concurrent requests for the same attachment
// of the same message wait for one extraction (each is a whole re-parse of the
// message; 8 parallel downloads of a 9 MB message were 8 parses).
import type { ExtractedAttachment } from "./parse.js";

export class SharedExtractions {
  private readonly inFlight = new Map<string, Promise<ExtractedAttachment | null>>();

  constructor(
    private readonly extract: (raw: Buffer, attachmentId: string) => Promise<ExtractedAttachment | null>,
  ) {}

  /** Attachment `attachmentId` of message `messageId`, whose raw bytes `raw()` reads (null: no such message). */
  get(
    messageId: string,
    attachmentId: string,
    raw: () => Buffer | null,
  ): Promise<ExtractedAttachment | null> | null {
    const key = `${messageId.toUpperCase()}/${attachmentId}`;
    const running = this.inFlight.get(key);
    if (running) return running;
    const bytes = raw();
    if (!bytes) return null;
    const p = this.extract(bytes, attachmentId).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }
}
