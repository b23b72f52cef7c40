// Public entry of the client library: `import { SinkClient } from "@tunmail/client"`.
export {
  SinkClient,
  describeWait,
  type ListOptions,
  type SinkClientOptions,
  type WaitOptions,
  type StreamOptions,
} from "./sink-client.js";
export { SinkApiError, SinkTimeoutError, SinkUnreachableError } from "./errors.js";
export type {
  Address,
  AttachmentInfo,
  DeleteResult,
  Envelope,
  ExtractedLink,
  Extraction,
  Header,
  Health,
  Message,
  MessageFilter,
  MessageList,
  ReadData,
  ReadUpdate,
  StreamFrame,
  Summary,
  UpdateResult,
} from "../protocol/wire.js";
