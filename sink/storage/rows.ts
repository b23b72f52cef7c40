// Rows of the messages table -> API objects. Shared by the store (main thread)
// and the reader worker.
import type { Address, AttachmentInfo, Header, Message, Summary } from "../../protocol/wire.js";

export interface Row {
  seq: number;
  id: string;
  received_at: number;
  envelope_from: string;
  envelope_to: string;
  remote_ip: string;
  helo_name: string;
  tls: number;
  auth_user: string | null;
  size: number;
  from_json: string | null;
  to_json: string;
  cc_json: string;
  subject: string;
  snippet: string;
  message_id: string | null;
  date: string | null;
  headers_json: string;
  text: string | null;
  html: string | null;
  attachments_json: string;
  read: number;
}

export const SUMMARY_COLUMNS =
  "m.seq, m.id, m.received_at, m.envelope_from, m.envelope_to, m.remote_ip, m.helo_name, m.tls, m.auth_user, " +
  "m.size, m.from_json, m.to_json, m.cc_json, m.subject, m.snippet, m.attachments_json, " +
  // read state has its own table (migration 003)
  "EXISTS (SELECT 1 FROM read_marks r WHERE r.seq = m.seq) AS read";
export const MESSAGE_COLUMNS = SUMMARY_COLUMNS + ", m.message_id, m.date, m.headers_json, m.text, m.html";

export function rowToSummary(r: Row): Summary {
  const attachments = JSON.parse(r.attachments_json) as AttachmentInfo[];
  return {
    id: r.id,
    receivedAt: new Date(r.received_at).toISOString(),
    envelope: { from: r.envelope_from, to: JSON.parse(r.envelope_to) as string[] },
    from: r.from_json ? (JSON.parse(r.from_json) as Address) : null,
    to: JSON.parse(r.to_json) as Address[],
    cc: JSON.parse(r.cc_json) as Address[],
    subject: r.subject,
    size: r.size,
    attachmentCount: attachments.length,
    snippet: r.snippet,
    remoteIp: r.remote_ip,
    tls: r.tls === 1,
    authUser: r.auth_user,
    read: r.read === 1,
  };
}

export function rowToMessage(r: Row): Message {
  return {
    ...rowToSummary(r),
    messageId: r.message_id,
    date: r.date,
    heloName: r.helo_name,
    headers: JSON.parse(r.headers_json) as Header[],
    text: r.text,
    html: r.html,
    attachments: JSON.parse(r.attachments_json) as AttachmentInfo[],
  };
}
