// The mail half of `tun up`: the `tun watch` printing loop, pointed at the
// VM's sink through a local forward over SSH, filtered to the tunnel's
// subdomain. The stream resumes from the last message shown after any drop
// (the client library does that); this module folds its outage notices into
// the tunnel's own while SSH itself is down, so the user is told once.
import { SinkClient } from "@tunmail/client";
import { deliveryReporter } from "../deliver/events.js";
import type { DeliverySettings } from "../deliver/options.js";
import { startDelivery, type Delivery } from "../deliver/queue.js";
import { printable } from "../../protocol/printable.js";
import { UserError } from "../errors.js";
import { NOTICE_RECONNECTED, NOTICE_RECONNECTING, printStream } from "../watch/printer.js";
import type { LocalForward } from "./local-forward.js";

export interface MailStreamOptions {
  /** Local forward to the sink's HTTP listener on the VM. */
  sinkForward: LocalForward;
  /** The sink's address as configured, for messages. */
  sinkAddress: string;
  /** e.g. "@api.tun.example.com" */
  pattern: string;
  json: boolean;
  color: boolean;
  out: NodeJS.WritableStream;
  log: (line: string) => void;
  /** True while the SSH link is down (the tunnel has already said so). */
  sshDown: () => boolean;
  /** The stream failed for good after it had been running. */
  onFatal: (err: Error) => void;
  /** --deliver: also POST each message to the app; `scope` names the tunnel for the saved position. */
  deliver?: DeliverySettings & { scope: string };
}

export class MailStream {
  private readonly abort = new AbortController();
  private done: Promise<void> | null = null;
  private swallowReconnected = false;
  private delivery: Delivery | null = null;

  constructor(private readonly o: MailStreamOptions) {}

  private notice(line: string): void {
    if (line === NOTICE_RECONNECTING && this.o.sshDown()) {
      this.swallowReconnected = true;
      return;
    }
    if (line === NOTICE_RECONNECTED && this.swallowReconnected) {
      this.swallowReconnected = false;
      return;
    }
    this.o.log(`[mail] ${line}`);
  }

  /** Resolves once the first connection is up; throws a UserError naming the sink when it cannot be. */
  async start(): Promise<void> {
    const { o } = this;
    let connected!: () => void;
    let isConnected = false;
    let firstError: Error | null = null;
    const firstConnect = new Promise<void>((resolve) => (connected = resolve));
    this.done = printStream({
      client: new SinkClient(o.sinkForward.url),
      to: [o.pattern],
      json: o.json,
      color: o.color,
      out: o.out,
      signal: this.abort.signal,
      notice: (line) => this.notice(line),
      onConnected: () => {
        isConnected = true;
        o.log(`[mail] streaming mail for ${o.pattern} from the VM's sink`);
        connected();
      },
    }).then(
      () => undefined,
      (err: Error) => {
        if (this.abort.signal.aborted) return;
        // The client library names the local end of the forward; name the VM's address and the SSH error instead.
        const why = o.sinkForward.lastOpenError ?? err.message;
        // The error text can quote the sink's answer: printable, like every mail-derived string.
        const failure = new UserError(
          `cannot stream mail from the VM's sink at ${o.sinkAddress}: ${printable(why)}`,
        );
        if (isConnected) o.onFatal(failure);
        else firstError = failure;
      },
    );
    await Promise.race([firstConnect, this.done]);
    if (firstError) throw firstError;
    if (o.deliver && !this.abort.signal.aborted) {
      this.delivery = startDelivery({
        ...o.deliver,
        client: new SinkClient(o.sinkForward.url),
        to: [o.pattern],
        onEvent: deliveryReporter({ json: o.json, write: o.log }),
      });
    }
  }

  /** Idempotent; resolves when the printing loop has ended. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all([this.done, this.delivery?.stop()]);
  }
}
