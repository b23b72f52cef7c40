// `tun mail …`: list, show, save, open, wait for and delete captured messages.
// One module per subcommand under cli/mail/; this file is the command table.
import type { CommandModule } from "../command.js";
import { idArg, run } from "../mail/context.js";
import { single } from "../mail/filter-flags.js";
import { ls, lsOptions } from "../mail/ls.js";
import { open, openOptions } from "../mail/open.js";
import { clear, rm } from "../mail/remove.js";
import { save, saveOptions } from "../mail/save.js";
import { raw, show } from "../mail/show.js";
import { wait, waitOptions } from "../mail/wait.js";
import { withSinkOption } from "../watch/sink-access.js";
import { mailDeliver, mailDeliverBuilder } from "./mail-deliver.js";

const command: CommandModule = {
  command: "mail",
  describe: "List, show, save, wait for and delete captured messages",
  builder: (y) =>
    withSinkOption(y)
      .command("ls", "List messages, newest first", lsOptions, run(ls))
      .command(
        "show <id>",
        "Headers, attachments (with their ids) and text body of a message",
        idArg,
        run(show, (a) => String(a.id)),
      )
      .command(
        "raw <id>",
        "The raw message, byte for byte, to stdout",
        idArg,
        run(raw, (a) => String(a.id)),
      )
      .command(
        "save <id> [attachments..]",
        "Write attachments (or the .eml with --eml) to files",
        saveOptions,
        run(save, (a) => String(a.id)),
      )
      .command(
        "open <id>",
        "Open the HTML part, scripts removed, in a browser; prints its path",
        openOptions,
        run(open, (a) => String(a.id)),
      )
      .command(
        "wait",
        "Wait for a message that arrives from now on; exit 1 on timeout",
        waitOptions,
        run(wait),
      )
      .command(
        "rm <ids..>",
        "Delete messages by id",
        (s) => s.positional("ids", { type: "string", describe: "Message ids" }),
        run(rm),
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
        run(clear),
      )
      .command(
        "deliver <ids..>",
        "POST messages to your app as a provider's webhook would",
        mailDeliverBuilder,
        run(mailDeliver),
      )
      .demandCommand(1, "Name a mail command: ls, show, raw, save, open, wait, rm, clear or deliver."),
  handler: () => undefined,
};
export default command;
