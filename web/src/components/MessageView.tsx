// One message: its headers and transport facts, the codes and links found in
// it, and the tabs (HTML, Text, Headers, Source, Attachments). Opening an
// unread message marks it read on the server.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, messageUrl } from "../api.js";
import { formatAddress, formatAddresses, formatFullTime, formatSize, shown } from "../display.js";
import type { ListModel } from "../list-model.js";
import type { Message } from "../types.js";
import { CodesPanel } from "./CodesPanel.js";
import { DeliverAction } from "./DeliverAction.js";
import { AttachmentsTab, HeadersTab, HtmlTab, SourceTab, TextTab } from "./tabs.js";

type Tab = "html" | "text" | "headers" | "source" | "attachments";

interface Props {
  id: string;
  model: ListModel;
  onBack(): void;
  onDelete(id: string): void;
  onSetRead(id: string, read: boolean): Promise<void>;
}

const sameSet = (a: string[], b: string[]): boolean => {
  const x = new Set(a.map((s) => s.toLowerCase()));
  const y = new Set(b.map((s) => s.toLowerCase()));
  return x.size === y.size && [...x].every((v) => y.has(v));
};

/** Whether MAIL FROM / RCPT TO say something the From/To/Cc headers do not. */
function envelopeDiffers(m: Message): boolean {
  const headerRcpts = [...m.to, ...m.cc].map((a) => a.address);
  return (
    (m.from?.address ?? "").toLowerCase() !== m.envelope.from.toLowerCase() ||
    !sameSet(headerRcpts, m.envelope.to)
  );
}

export function MessageView({ id, model, onBack, onDelete, onSetRead }: Props) {
  const [message, setMessage] = useState<Message | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tab, setTab] = useState<Tab | null>(null);
  const summary = model.get(id);
  const read = summary?.read ?? message?.read ?? true;

  useEffect(() => {
    api.get(id).then(
      (m) => {
        setMessage(m);
        setTab(m.html !== null ? "html" : "text");
        if (!m.read) void onSetRead(id, true);
      },
      (err: unknown) =>
        setError(
          err instanceof ApiError && err.status === 404
            ? "This message is gone (deleted or pruned)."
            : err instanceof Error
              ? err.message
              : String(err),
        ),
    );
  }, [id]);

  // the message was deleted elsewhere while open
  const gone = model.wasDeleted(id);

  if (error || !message) {
    return (
      <section class="message-pane" aria-label="Message">
        <div class="message-toolbar">
          <button type="button" onClick={onBack}>
            ← Back
          </button>
        </div>
        <p class={error ? "error" : "empty"} role={error ? "alert" : undefined}>
          {error ?? "Loading…"}
        </p>
      </section>
    );
  }
  const m = message;
  const tabs: [Tab, string][] = [
    ...(m.html !== null ? [["html", "HTML"] as [Tab, string]] : []),
    ["text", "Text"],
    ["headers", "Headers"],
    ["source", "Source"],
    ["attachments", `Attachments (${m.attachments.length})`],
  ];
  return (
    <section class="message-pane" aria-label="Message">
      <div class="message-toolbar" role="toolbar" aria-label="Message actions">
        <button type="button" onClick={onBack} aria-label="Back to the list (Esc)">
          ← Back
        </button>
        <span class="spacer" />
        <DeliverAction id={id} />
        <button type="button" onClick={() => void onSetRead(id, !read)}>
          {read ? "Mark unread" : "Mark read"}
        </button>
        <a class="button" href={messageUrl(id, "/raw")} download={`${id}.eml`}>
          Download .eml
        </a>
        <button type="button" class="danger" onClick={() => onDelete(id)}>
          Delete
        </button>
      </div>
      {gone && (
        <p class="notice" role="status">
          This message was deleted.
        </p>
      )}
      <h1 class="subject">{shown(m.subject) || "(no subject)"}</h1>
      <dl class="facts">
        <dt>From</dt>
        <dd>{formatAddress(m.from) || "—"}</dd>
        <dt>To</dt>
        <dd>{formatAddresses(m.to) || "—"}</dd>
        {m.cc.length > 0 && (
          <>
            <dt>Cc</dt>
            <dd>{formatAddresses(m.cc)}</dd>
          </>
        )}
        <dt>Date</dt>
        <dd>{formatFullTime(m.date)}</dd>
        <dt>Received</dt>
        <dd>{formatFullTime(m.receivedAt)}</dd>
        {envelopeDiffers(m) && (
          <>
            <dt>MAIL FROM</dt>
            <dd data-testid="envelope-from">&lt;{shown(m.envelope.from)}&gt;</dd>
            <dt>RCPT TO</dt>
            <dd data-testid="envelope-to">{shown(m.envelope.to.map((a) => `<${a}>`).join(", "))}</dd>
          </>
        )}
        <dt>Client</dt>
        <dd>
          {m.remoteIp}, HELO {shown(m.heloName) || "—"}, {m.tls ? "TLS" : "no TLS"}
          {m.authUser ? `, AUTH ${shown(m.authUser)}` : ""}, {formatSize(m.size)}
        </dd>
      </dl>
      <CodesPanel id={id} />
      <div class="tabs" role="tablist" aria-label="Message parts">
        {tabs.map(([key, label]) => (
          <button
            type="button"
            role="tab"
            id={`tab-${key}`}
            aria-selected={tab === key}
            aria-controls="tab-panel"
            class={tab === key ? "tab active" : "tab"}
            onClick={() => setTab(key)}
          >
            {label}
          </button>
        ))}
      </div>
      <div class="tab-panel" id="tab-panel" role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {tab === "html" && <HtmlTab id={id} />}
        {tab === "text" && <TextTab text={m.text} />}
        {tab === "headers" && <HeadersTab headers={m.headers} />}
        {tab === "source" && <SourceTab id={id} />}
        {tab === "attachments" && <AttachmentsTab id={id} attachments={m.attachments} />}
      </div>
    </section>
  );
}
