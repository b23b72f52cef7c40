// `tun mail deliver <id>… --to URL [--format …]`: POST stored messages to the
// app again, exactly as --deliver would (same payload, same X-Tun-Message-Id),
// once each, and show what the app answered: for iterating on a handler.
import { SinkClient } from "@tunmail/client";
import { printable } from "../../protocol/printable.js";
import { formatArg, signingKeyArg } from "../deliver/options.js";
import { replayMessage } from "../deliver/replay.js";
import { deliveryTarget } from "../deliver/target.js";
import { deliveryTimings } from "../deliver/timings.js";
import { EXIT_FAILURE } from "../errors.js";
import { asUserError, sinkUrl } from "../watch/sink-access.js";
import type { Args } from "./context.js";

/** Lines of each answer's body shown, and characters per line. */
const ANSWER_LINES = 5;
const ANSWER_LINE_CHARS = 200;

export async function deliverStored(argv: Args): Promise<void> {
  const target = deliveryTarget(String(argv.to), {
    flag: "--to",
    allowRemote: argv["deliver-remote"] === true,
  });
  const formatName = formatArg(argv.format);
  const signingKey = signingKeyArg(argv["signing-key"], process.env);
  const timings = deliveryTimings();
  const client = new SinkClient(sinkUrl(argv.sink));
  const ids = (argv.ids as string[]).map(String);
  let failed = 0;
  for (const id of ids) {
    let result;
    try {
      result = await replayMessage({
        client,
        id,
        target,
        format: formatName,
        signingKey,
        timeoutMs: timings.requestTimeoutMs,
      });
    } catch (err) {
      throw asUserError(err, { id });
    }
    if (result.verdict !== "delivered") failed++;
    const answer = result.status === null ? result.error : `${result.status} in ${result.ms} ms`;
    process.stdout.write(`${id} → POST ${target.display} ${answer}\n`);
    for (const line of answerLines(result.head)) process.stdout.write(`  ${line}\n`);
  }
  if (failed) {
    process.stderr.write(
      `[deliver] ${failed} of ${ids.length} not accepted by the app (no retries here; run it again)\n`,
    );
    process.exitCode = EXIT_FAILURE;
  }
}

/** The first lines of the app's answer, made safe to print (the app may echo mail content). */
function answerLines(head: Buffer): string[] {
  const text = head.toString("utf8").replace(/\r\n/g, "\n").trimEnd();
  if (!text) return [];
  return text
    .split("\n")
    .slice(0, ANSWER_LINES)
    .map((line) =>
      printable(line.length > ANSWER_LINE_CHARS ? line.slice(0, ANSWER_LINE_CHARS) + "…" : line),
    );
}
