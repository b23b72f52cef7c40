// `tun mail …`: list, show, save, open, wait for and delete captured messages.
// One module per subcommand under cli/mail/, their flags in cli/mail/options.ts;
// this file is the command table.
import type { CommandModule } from "../command.js";
import { idArg, run, type Args } from "../mail/context.js";
import {
  clearOptions,
  deliverOptions,
  lsOptions,
  openOptions,
  rmOptions,
  saveOptions,
  waitOptions,
} from "../mail/options.js";
import { withSinkOption } from "../watch/sink-access.js";

type Handler = (argv: Args) => Promise<void>;

/** The message id a failing subcommand names in its one-line error. */
const idOf = (a: Args): string => String(a.id);

/** The handler `name` of a module that loads when the subcommand runs, not when `tun mail` starts. */
function lazy<K extends string>(load: () => Promise<Record<K, Handler>>, name: K): Handler {
  return async (argv) => (await load())[name](argv);
}

const command: CommandModule = {
  command: "mail",
  describe: "List, show, save, wait for and delete captured messages",
  builder: (y) =>
    withSinkOption(y)
      .command("ls", "List messages, newest first", lsOptions, run(lazy(() => import("../mail/ls.js"), "ls")))
      .command(
        "show <id>",
        "Headers, attachments (with their ids) and text body of a message",
        idArg,
        run(
          lazy(() => import("../mail/show.js"), "show"),
          idOf,
        ),
      )
      .command(
        "raw <id>",
        "The raw message, byte for byte, to stdout",
        idArg,
        run(
          lazy(() => import("../mail/show.js"), "raw"),
          idOf,
        ),
      )
      .command(
        "save <id> [attachments..]",
        "Write attachments (or the .eml with --eml) to files",
        saveOptions,
        run(
          lazy(() => import("../mail/save.js"), "save"),
          idOf,
        ),
      )
      .command(
        "open <id>",
        "Open the HTML part, scripts removed, in a browser; prints its path",
        openOptions,
        run(
          lazy(() => import("../mail/open.js"), "open"),
          idOf,
        ),
      )
      .command(
        "wait",
        "Wait for a message that arrives from now on; exit 1 on timeout",
        waitOptions,
        run(lazy(() => import("../mail/wait.js"), "wait")),
      )
      .command(
        "rm <ids..>",
        "Delete messages by id",
        rmOptions,
        run(lazy(() => import("../mail/remove.js"), "rm")),
      )
      .command(
        "clear",
        "Delete all messages, or those to --to and matching --search",
        clearOptions,
        run(lazy(() => import("../mail/remove.js"), "clear")),
      )
      .command(
        "deliver <ids..>",
        "POST messages to your app as a provider's webhook would",
        deliverOptions,
        run(lazy(() => import("../mail/deliver.js"), "deliverStored")),
      )
      .demandCommand(1, "Name a mail command: ls, show, raw, save, open, wait, rm, clear or deliver."),
  handler: () => undefined,
};
export default command;
