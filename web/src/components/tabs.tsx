// The message tabs. The HTML is framed from the sink's /html endpoint in a
// sandbox without allow-scripts: no script in the mail runs, whatever the
// server's own policy says; the server adds its CSP on top. allow-same-origin
// (never together with allow-scripts) keeps the frame on the sink's origin:
// an opaque-origin frame's requests for its cid: images are cross-origin, and
// Chromium's opaque-response blocking refused them.
import { useEffect, useState } from "preact/hooks";
import { api, messageUrl } from "../api.js";
import { safeFilename } from "../../../protocol/safe-filename.js";
import { formatSize, shown } from "../display.js";
import type { AttachmentInfo, Header } from "../types.js";

/** Preview widths, px (null = the pane's full width). */
const WIDTHS: [string, number | null][] = [
  ["Phone", 375],
  ["Tablet", 768],
  ["Full", null],
];
/** Source shown inline up to this many characters; the .eml download has all of it. */
const SOURCE_PREVIEW_MAX_CHARS = 1_000_000;

export function HtmlTab({ id }: { id: string }) {
  const [remote, setRemote] = useState(false);
  const [width, setWidth] = useState<number | null>(null);
  return (
    <div class="html-tab">
      <div class="tab-tools">
        <span role="group" aria-label="Preview width" class="segmented">
          {WIDTHS.map(([label, w]) => (
            <button
              type="button"
              aria-pressed={width === w}
              class={width === w ? "active" : ""}
              onClick={() => setWidth(w)}
            >
              {label}
              {w ? ` ${w}` : ""}
            </button>
          ))}
        </span>
        <span class="spacer" />
        {remote ? (
          <span class="hint">Remote images loaded</span>
        ) : (
          <button type="button" onClick={() => setRemote(true)}>
            Load remote images
          </button>
        )}
      </div>
      <div class="frame-wrap">
        <iframe
          title="Message HTML"
          src={messageUrl(id, "/html") + (remote ? "?remote=1" : "")}
          sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"
          referrerpolicy="no-referrer"
          style={{ width: width ? `${width}px` : "100%" }}
        />
      </div>
    </div>
  );
}

export function TextTab({ text }: { text: string | null }) {
  if (text === null) return <p class="empty">This message has no text part.</p>;
  return <pre class="text-body">{text}</pre>;
}

export function HeadersTab({ headers }: { headers: Header[] }) {
  return (
    <table class="headers">
      <tbody>
        {headers.map((h, i) => (
          <tr key={i}>
            <th scope="row">{h.key}</th>
            <td>{h.value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function SourceTab({ id }: { id: string }) {
  const [raw, setRaw] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.raw(id).then(setRaw, (err: Error) => setError(err.message));
  }, [id]);
  return (
    <div>
      <div class="tab-tools">
        <a class="button" href={messageUrl(id, "/raw")} download={`${id}.eml`}>
          Download .eml
        </a>
      </div>
      {error && <p class="error">{error}</p>}
      {raw === null && !error && <p class="empty">Loading…</p>}
      {raw !== null && (
        <>
          {raw.length > SOURCE_PREVIEW_MAX_CHARS && (
            <p class="hint">Showing the first {SOURCE_PREVIEW_MAX_CHARS.toLocaleString()} characters.</p>
          )}
          <pre class="source">{raw.slice(0, SOURCE_PREVIEW_MAX_CHARS)}</pre>
        </>
      )}
    </div>
  );
}

export function AttachmentsTab({ id, attachments }: { id: string; attachments: AttachmentInfo[] }) {
  if (!attachments.length) return <p class="empty">No attachments.</p>;
  return (
    <ul class="attachments">
      {attachments.map((a) => {
        const url = messageUrl(id, `/attachments/${encodeURIComponent(a.id)}`);
        // the sender's name with its control and bidi characters shown as escapes (an
        // override would show "invoice\u202egpj.exe" as "invoiceexe.jpg"), and the
        // name the download gets: the one the sink's Content-Disposition and `tun mail save` use
        const name = a.filename === null ? a.id : shown(a.filename);
        const saveAs = safeFilename(a.filename, `attachment-${a.id}`);
        return (
          <li key={a.id}>
            {a.contentType.startsWith("image/") && (
              <img class="preview" src={url} alt={`Preview of ${name}`} loading="lazy" />
            )}
            <div class="att-info">
              <span class="att-name">{name}</span>
              <span class="hint">
                {a.contentType}, {formatSize(a.size)}
                {a.inline ? ", inline" : ""}
              </span>
              <a class="button" href={url} download={saveAs} aria-label={`Download ${name}`}>
                Download
              </a>
            </div>
          </li>
        );
      })}
    </ul>
  );
}
