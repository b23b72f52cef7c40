// `tun mail wait`: exit 0 with the first matching message that arrives after
// the command starts, 1 on timeout.
//
// Only new mail counts unless --since says otherwise: a script that signs up
// and then runs `tun mail wait --to qa@…` must not pass, on its second run,
// on the message the first run left behind. The client library's waitFor
// keeps returning a stored match at once (a test suite passes `since` itself);
// the command pins `since` to the newest message stored when it starts.
import { printable, printableJson } from "../../protocol/printable.js";
import { parseDurationMs } from "../../protocol/values.js";
import { describeWait, SinkTimeoutError } from "@tunmail/client";
import type { Message } from "../../protocol/wire.js";
import { EXIT_FAILURE, UsageError, UserError } from "../errors.js";
import { useColor } from "../watch/color.js";
import { formatMessage } from "../watch/render.js";
import { addressPatterns } from "../watch/sink-access.js";
import { client, out, type Args } from "./context.js";
import { givenOnly, textFlag } from "./filter-flags.js";

export async function wait(argv: Args): Promise<void> {
  const [to] = addressPatterns("to", textFlag(argv, "to"));
  const search = textFlag(argv, "search");
  if (!to && !search) {
    throw new UsageError("say which mail to wait for: --to ADDRESS|@DOMAIN, --search TERMS, or both");
  }
  const [from] = addressPatterns("from", textFlag(argv, "from"));
  const timeoutMs = parseDurationMs(String(argv.timeout));
  if (timeoutMs === null || timeoutMs <= 0) {
    throw new UsageError(`--timeout: expected a duration like 30, 90s or 5m, got "${String(argv.timeout)}"`);
  }
  const sink = client(argv);
  // The newest stored id, not the clock: the sink's clock (on the VM) need not agree with ours.
  // With --search, the newest match (the same cut for what can match): the sink checks the
  // search here, so a bad term is refused before the waiting line.
  const newest = (await sink.list({ limit: 1, ...givenOnly({ search }) })).messages[0]?.id;
  const since = textFlag(argv, "since") ?? newest;
  const auto = argv.since === undefined;
  const filter = givenOnly({ to, search, from, subject: textFlag(argv, "subject") });
  // Scripts and tests read this line to know new mail will count from here on.
  process.stderr.write(
    `[mail] waiting for mail ${printable(describeWait({ ...filter, since: auto ? undefined : since }))}`,
  );
  process.stderr.write(auto ? " arriving from now on\n" : "\n");
  let m: Message;
  try {
    m = await sink.waitFor({ ...filter, ...givenOnly({ since }), timeoutMs });
  } catch (err) {
    // The pinned id means nothing to the user: say what they asked for.
    if (!(err instanceof SinkTimeoutError) || !auto) throw err;
    throw new UserError(
      printable(`no message ${describeWait(filter)} arrived within ${timeoutMs / 1000}s`),
      EXIT_FAILURE,
    );
  }
  out(argv.json ? printableJson(m) : formatMessage(m, { color: useColor(process.stdout) }));
}
