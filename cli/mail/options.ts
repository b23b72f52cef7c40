// The flags of each `tun mail` subcommand, apart from their handlers: the
// command table (cli/commands/mail.ts) needs every subcommand's flags to parse
// and to print help, but loads only the handler that runs, so `tun mail ls`
// starts without what `open`, `save`, `wait` or `deliver` need (the payload
// formats, crypto, child processes).
import type { Argv } from "yargs";
import { SIGNING_KEY_ENV } from "../deliver/options.js";
import { describeWithDefault } from "../help-text.js";
import { idArg } from "./context.js";
import { single, withListFilterOptions } from "./filter-flags.js";

/** Rows `tun mail ls` shows unless --limit says otherwise. */
export const LS_DEFAULT_LIMIT = 20;

export function lsOptions(y: Argv): Argv {
  return withListFilterOptions(y)
    .option("limit", {
      type: "number",
      requiresArg: true,
      describe: `At most N (default ${LS_DEFAULT_LIMIT})`,
    })
    .option("json", { type: "boolean", default: false, describe: "One JSON summary per line" });
}

export function openOptions(y: Argv): Argv {
  return idArg(y).option("remote-images", {
    type: "boolean",
    default: false,
    describe: "Let the page load images from the internet (senders see that you opened it)",
  });
}

export function saveOptions(y: Argv): Argv {
  return idArg(y)
    .positional("attachments", {
      type: "string",
      array: true,
      describe: "Attachment ids (from tun mail show); default: every attachment",
    })
    .option("o", {
      alias: "output",
      type: "string",
      requiresArg: true,
      describe: "Folder to write into, created if missing (default: the current folder)",
    })
    .option("eml", { type: "boolean", default: false, describe: "Save the whole message as <id>.eml" })
    .option("force", { type: "boolean", default: false, describe: "Overwrite files that exist" });
}

export function rmOptions(y: Argv): Argv {
  return y.positional("ids", { type: "string", describe: "Message ids" });
}

export function clearOptions(y: Argv): Argv {
  return y
    .option("to", single("Only messages to this address or @domain"))
    .option("search", single('Only messages matching these search terms, e.g. "is:read" (README: Search)'));
}

export function waitOptions(y: Argv): Argv {
  return y
    .option("to", single("Address or @domain to wait for (this or --search is required)"))
    .option(
      "search",
      single('Search terms the message must match, e.g. "to:@app.test subject:welcome" (README: Search)'),
    )
    .option("subject", single("Subject contains this (case-insensitive)"))
    .option("from", single("From this address or @domain"))
    .option(
      "since",
      single(
        describeWithDefault(
          "Also accept mail stored after this message id, or received at or after this ISO time",
          "only mail arriving after the command starts",
        ),
      ),
    )
    .option("timeout", { ...single("Give up after this long (seconds, or 90s, 5m)"), default: "30" })
    .option("json", { type: "boolean", default: false, describe: "Print the message as JSON" });
}

/** `tun mail deliver`: POST stored messages to the app again, as --deliver would (cli/mail/deliver.ts). */
export function deliverOptions(y: Argv): Argv {
  return y
    .positional("ids", { type: "string", describe: "Message ids (from tun mail ls)" })
    .option("to", {
      type: "string",
      requiresArg: true,
      demandOption: true,
      describe: "Your app's webhook URL, e.g. http://localhost:3000/webhooks/inbound",
    })
    .option("format", {
      type: "string",
      requiresArg: true,
      describe: "Payload: raw, sendgrid, sendgrid-raw, mailgun, postmark, ses (default raw)",
    })
    .option("signing-key", {
      type: "string",
      requiresArg: true,
      describe: `Mailgun webhook signing key [env ${SIGNING_KEY_ENV}]`,
    })
    .option("deliver-remote", {
      type: "boolean",
      default: false,
      describe: "Allow a URL that is not on this machine",
    });
}
