// `tun watch`: print every captured message as it arrives.
import { SinkClient } from "@tunmail/client";
import type { CommandModule } from "../command.js";
import { deliveryReporter } from "../deliver/events.js";
import { deliverySettings, withDeliverOptions } from "../deliver/options.js";
import { startDelivery, type Delivery } from "../deliver/queue.js";
import { EXIT_INTERRUPTED } from "../errors.js";
import { useColor } from "../watch/color.js";
import { printStream } from "../watch/printer.js";
import { addressPatterns, asUserError, sinkUrl, withSinkOption } from "../watch/sink-access.js";

const command: CommandModule = {
  command: "watch",
  describe: "Show captured messages as they arrive",
  builder: (y) =>
    withDeliverOptions(withSinkOption(y), { pathHint: "a URL like http://localhost:3000/webhooks/inbound" })
      .option("to", {
        type: "string",
        array: true,
        requiresArg: true,
        describe: "Only messages to this address or @domain (repeatable)",
      })
      .option("since", {
        type: "string",
        requiresArg: true,
        describe: "First replay the stored messages after this message id",
      })
      .option("json", {
        type: "boolean",
        default: false,
        describe: "One JSON message per line (NDJSON)",
      })
      .example("$0 watch --to @api.tun.example.com", "mail to that domain and below")
      .example("$0 watch --json | jq -r .subject", "subjects only")
      .example("$0 watch --deliver http://localhost:3000/inbound --format postmark", "POST mail to your app"),
  handler: async (argv) => {
    const url = sinkUrl(argv.sink);
    const to = addressPatterns("to", argv.to);
    const since = argv.since === undefined ? undefined : String(argv.since).trim() || undefined;
    const json = argv.json === true;
    const deliver = deliverySettings(argv as Record<string, unknown>, {});

    const controller = new AbortController();
    let interrupted = false;
    const stop = (): void => {
      interrupted = true;
      controller.abort();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    // `tun watch | head` closes our stdout: stop quietly instead of crashing on EPIPE.
    process.stdout.on("error", () => controller.abort());

    const log = (line: string): void => void process.stderr.write(`[watch] ${line}\n`);
    const scope = to.length ? `messages to ${to.join(", ")}` : "all messages";
    let delivery: Delivery | null = null;
    try {
      await printStream({
        client: new SinkClient(url),
        to,
        since,
        json,
        color: !json && useColor(process.stdout),
        out: process.stdout,
        signal: controller.signal,
        notice: log,
        onConnected: () => {
          log(`watching ${url} for ${scope}; Ctrl-C to stop`);
          if (deliver) {
            delivery = startDelivery({
              ...deliver,
              client: new SinkClient(url),
              to,
              scope: `watch:${url}:${to.join(",")}`,
              onEvent: deliveryReporter({ json, write: (line) => void process.stderr.write(line + "\n") }),
            });
          }
        },
      });
    } catch (err) {
      throw asUserError(err);
    } finally {
      await (delivery as Delivery | null)?.stop();
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    }
    if (interrupted) process.exitCode = EXIT_INTERRUPTED;
  },
};
export default command;
