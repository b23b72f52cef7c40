// GET /api/v1/messages/:id/extract: the codes and links QA copies out of a
// signup mail, from the stored message alone (nothing is fetched or followed).
import type { Extraction, Message } from "../../protocol/wire.js";
import { findCodes } from "./codes.js";
import { findLinks } from "./links.js";

export function extractFrom(m: Pick<Message, "subject" | "text" | "html">): Extraction {
  // the sink derives text from HTML-only mail (mailparser), so the text part is where codes are read
  return { codes: findCodes(m.subject, m.text ?? ""), links: findLinks(m.html, m.text) };
}
