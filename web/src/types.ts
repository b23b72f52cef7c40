// Wire types the UI uses, all from protocol/wire.ts: the UI speaks only the
// public API and the stream.
export type {
  Address,
  AttachmentInfo,
  Extraction,
  ExtractedLink,
  Header,
  HelloData,
  Message,
  MessageList as MessagePage,
  ReadData,
  Summary,
} from "../../protocol/wire.js";
