// `tun mail rm <ids..>` and `tun mail clear [--to] [--search]`.
import { printable } from "../../protocol/printable.js";
import { UserError } from "../errors.js";
import { addressPatterns, asUserError } from "../watch/sink-access.js";
import { client, out, plural, type Args } from "./context.js";
import { givenOnly, textFlag } from "./filter-flags.js";

export async function rm(argv: Args): Promise<void> {
  const ids = (argv.ids as unknown[]).map(String);
  const c = client(argv);
  const missing: string[] = [];
  let deleted = 0;
  for (const id of ids) {
    try {
      deleted += (await c.delete({ id })).deleted;
    } catch (err) {
      const mapped = asUserError(err, { id });
      if (!(mapped instanceof UserError) || !mapped.message.startsWith("no message with id")) throw err;
      missing.push(id);
    }
  }
  out(`deleted ${plural(deleted, "message")}`);
  if (missing.length) {
    throw new UserError(`no message with id ${printable(missing.join(", "))} in the sink (see tun mail ls)`);
  }
}

export async function clear(argv: Args): Promise<void> {
  const [to] = addressPatterns("to", textFlag(argv, "to"));
  const filter = givenOnly({ to, search: textFlag(argv, "search") });
  // the client refuses an empty filter ({}): "everything" is only ever the bare delete()
  const { deleted } = await (filter.to || filter.search
    ? client(argv).delete(filter)
    : client(argv).delete());
  const which = [
    filter.to ? ` to ${printable(filter.to)}` : "",
    filter.search ? ` matching ${printable(JSON.stringify(filter.search))}` : "",
  ].join("");
  out(`deleted ${plural(deleted, "message")}${which}`);
}
