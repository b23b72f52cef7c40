// `tun mail …`: list, show, save, open, wait for and delete captured messages.
// One module per subcommand under cli/mail/, their flags in cli/mail/options.ts;
// this file is the command table.
import type { CommandModule } from "../command.js";
import { idArg, run, type Args } from "../mail/context.js";
import { single } from "../mail/filter-flags.js";
import { deliverOptions, lsOptions, openOptions, saveOptions, waitOptions } from "../mail/options.js";
import { withSinkOption } from "../watch/sink-access.js";

/** A handler whose module loads when the subcommand runs, not when `tun mail` starts. */
function lazy<M>(load: () => Promise<M>, pick: (m: M) => (argv: Args) => Promise<void>) {
  return async (argv: Args): Promise<void> => pick(await load())(argv);
}

const command: CommandModule = {
  command: "mail",
  describe: "List, show, save, wait for and delete captured messages",
  builder: (y) =>
    withSinkOption(y)
      .command(
        "ls",
        "List messages, newest first",
        lsOptions,
        run(
          lazy(
            () => import("../mail/ls.js"),
            (m) => m.ls,
          ),
        ),
      )
      .command(
        "show <id>",
        "Headers, attachments (with their ids) and text body of a message",
        idArg,
        run(
          lazy(
            () => import("../mail/show.js"),
            (m) => m.show,
          ),
          (a) => String(a.id),
        ),
      )
      .command(
        "raw <id>",
        "The raw message, byte for byte, to stdout",
        idArg,
        run(
          lazy(
            () => import("../mail/show.js"),
            (m) => m.raw,
          ),
          (a) => String(a.id),
        ),
      )
      .command(
        "save <id> [attachments..]",
        "Write attachments (or the .eml with --eml) to files",
        saveOptions,
        run(
          lazy(
            () => import("../mail/save.js"),
            (m) => m.save,
          ),
          (a) => String(a.id),
        ),
      )
      .command(
        "open <id>",
        "Open the HTML part, scripts removed, in a browser; prints its path",
        openOptions,
        run(
          lazy(
            () => import("../mail/open.js"),
            (m) => m.open,
          ),
          (a) => String(a.id),
        ),
      )
      .command(
        "wait",
        "Wait for a message that arrives from now on; exit 1 on timeout",
        waitOptions,
        run(
          lazy(
            () => import("../mail/wait.js"),
            (m) => m.wait,
          ),
        ),
      )
      .command(
        "rm <ids..>",
        "Delete messages by id",
        (s) => s.positional("ids", { type: "string", describe: "Message ids" }),
        run(
          lazy(
            () => import("../mail/remove.js"),
            (m) => m.rm,
          ),
        ),
      )
      .command(
        "clear",
        "Delete all messages, or those to --to and matching --search",
        (s) =>
          s
            .option("to", single("Only messages to this address or @domain"))
            .option(
              "search",
              single('Only messages matching these search terms, e.g. "is:read" (README: Search)'),
            ),
        run(
          lazy(
            () => import("../mail/remove.js"),
            (m) => m.clear,
          ),
        ),
      )
      .command(
        "deliver <ids..>",
        "POST messages to your app as a provider's webhook would",
        deliverOptions,
        run(
          lazy(
            () => import("../mail/deliver.js"),
            (m) => m.deliverStored,
          ),
        ),
      )
      .demandCommand(1, "Name a mail command: ls, show, raw, save, open, wait, rm, clear or deliver."),
  handler: () => undefined,
};
export default command;
