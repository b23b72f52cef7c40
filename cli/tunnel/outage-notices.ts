// What the user is told about outages while `tun up` runs: one notice and one
// recovery line per outage, whichever part noticed it first. The SSH link's
// loss covers the mail streams riding it; a stream that drops while SSH still
// looks up is reported only if SSH does not go down within the time its
// keepalive needs to notice a stalled network (the stream often notices
// first). Caddy's admin API failing while the link is up is reported once,
// and once more when it answers again.
import { NOTICE_RECONNECTED, NOTICE_RECONNECTING } from "../watch/printer.js";

export class OutageNotices {
  private sshDown = false;
  /** Streams whose loss is waiting to be reported (SSH may yet turn out to be the cause). */
  private readonly pending = new Map<string, NodeJS.Timeout>();
  /** Streams whose loss was reported and not yet their recovery. */
  private readonly reported = new Set<string>();
  private adminDown = false;

  constructor(
    private readonly log: (line: string) => void,
    /** How long SSH may take to notice a stalled network, ms. */
    private readonly sshDetectMs: number,
  ) {}

  linkLost(line: string): void {
    this.sshDown = true;
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    this.reported.clear();
    this.log(line);
  }

  linkBack(line: string): void {
    this.sshDown = false;
    this.log(line);
  }

  get linkDown(): boolean {
    return this.sshDown;
  }

  /** A mail stream's own outage notice ("[mail] …" line from MailStream); other lines pass through. */
  streamLine(stream: string, line: string): void {
    if (line === `[mail] ${NOTICE_RECONNECTING}`) this.streamLost(stream);
    else if (line === `[mail] ${NOTICE_RECONNECTED}`) this.streamBack(stream);
    else this.log(line);
  }

  private streamLost(stream: string): void {
    if (this.sshDown || this.pending.has(stream) || this.reported.has(stream)) return;
    const timer = setTimeout(() => {
      this.pending.delete(stream);
      if (this.sshDown) return;
      if (this.reported.size === 0) this.log(`[mail] ${NOTICE_RECONNECTING}`);
      this.reported.add(stream);
    }, this.sshDetectMs);
    timer.unref();
    this.pending.set(stream, timer);
  }

  private streamBack(stream: string): void {
    const timer = this.pending.get(stream);
    if (timer) clearTimeout(timer);
    this.pending.delete(stream);
    if (!this.reported.delete(stream)) return;
    if (this.reported.size === 0) this.log(`[mail] ${NOTICE_RECONNECTED} to the VM's sink`);
  }

  adminFailed(message: string, recheckMs: number): void {
    if (this.adminDown) return;
    this.adminDown = true;
    this.log(
      `[tunnel] ${message}; the public URLs may not answer while Caddy is down; re-checking every ${recheckMs < 1000 ? `${recheckMs} ms` : `${Math.round(recheckMs / 1000)} s`}`,
    );
  }

  adminOk(): void {
    if (!this.adminDown) return;
    this.adminDown = false;
    this.log("[tunnel] Caddy's admin API on the VM answers again");
  }

  stop(): void {
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }
}
