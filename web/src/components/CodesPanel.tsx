// Codes and links found in the message (GET …/extract), each with a copy
// button; a link whose visible text names another host than its href is
// flagged.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../api.js";
import type { Extraction } from "../types.js";
import { shown } from "../display.js";

/** How long "Copied" shows on a button. */
const COPIED_FEEDBACK_MS = 1_500;

async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) return navigator.clipboard.writeText(text);
  // not a secure context (a plain-http name other than localhost): the old way
  const area = document.createElement("textarea");
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      class="copy"
      aria-label={`Copy ${label}`}
      onClick={() =>
        copyText(text).then(() => {
          setCopied(true);
          window.setTimeout(() => setCopied(false), COPIED_FEEDBACK_MS);
        })
      }
    >
      {copied ? "Copied" : "Copy"}
    </button>
  );
}

export function CodesPanel({ id }: { id: string }) {
  const [data, setData] = useState<Extraction | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api
      .extract(id)
      .then(setData, (err: unknown) => setError(err instanceof ApiError ? err.message : String(err)));
  }, [id]);
  if (error) return null;
  if (!data || (!data.codes.length && !data.links.length)) return null;
  return (
    <section class="codes" aria-label="Codes and links" data-testid="codes-panel">
      {data.codes.length > 0 && (
        <ul class="code-list">
          {data.codes.map((code) => (
            <li key={code}>
              <span class="hint">Code</span>
              <code class="code" data-testid="code">
                {code}
              </code>
              <CopyButton text={code} label={`code ${code}`} />
            </li>
          ))}
        </ul>
      )}
      {data.links.length > 0 && (
        <details open={data.codes.length === 0 || data.links.length <= 3}>
          <summary>
            Links ({data.links.length}){data.links.some((l) => l.mismatch) ? " — some look misleading" : ""}
          </summary>
          <ul class="link-list">
            {data.links.map((l, i) => (
              <li key={i} class={l.mismatch ? "mismatch" : ""}>
                {l.mismatch && (
                  <span class="flag" title="The visible text shows another host than the link goes to">
                    ⚠ host differs
                  </span>
                )}
                <span class="link-text">{shown(l.text) || "(no text)"}</span>
                <a href={l.href} target="_blank" rel="noopener noreferrer" class="link-href">
                  {shown(l.href)}
                </a>
                <CopyButton text={l.href} label={`link ${shown(l.href)}`} />
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}
