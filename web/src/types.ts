// Wire types the UI uses. The shared ones come from protocol/wire.ts; the
// read-state and extraction shapes of issue 12 are declared here until they
// are in protocol/wire.ts (api-ui), so the UI has one place to switch over.
import type { Message as WireMessage, Summary as WireSummary } from "../../protocol/wire.js";

export type { AttachmentInfo, HelloData, Header, Address } from "../../protocol/wire.js";

export type Summary = WireSummary & { read: boolean };
export type Message = WireMessage & { read: boolean };

export interface MessagePage {
  messages: Summary[];
  total: number;
  nextCursor: string | null;
}

export interface ExtractedLink {
  href: string;
  text: string;
  mismatch: boolean;
}

export interface Extraction {
  codes: string[];
  links: ExtractedLink[];
}

export interface ReadData {
  ids: string[];
  read: boolean;
}
