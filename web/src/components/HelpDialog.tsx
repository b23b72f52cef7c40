// The list of keys (`?`).
import { useEffect, useRef } from "preact/hooks";
import { KEY_HELP } from "../keyboard.js";

export function HelpDialog({ open, onClose }: { open: boolean; onClose(): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (open && d && !d.open) d.showModal();
    if (!open && d?.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} class="dialog" onClose={onClose} aria-labelledby="help-title">
      <h2 id="help-title">Keyboard</h2>
      <table class="keys">
        <tbody>
          {KEY_HELP.map(([key, what]) => (
            <tr key={key}>
              <th scope="row">
                <kbd>{key}</kbd>
              </th>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="hint">
        Search: words, "quoted phrases", to: from: cc: subject: (address or @domain), has:attachment, is:read,
        is:unread, before: after: (date or ISO time), larger: smaller: (e.g. 100KB); -term negates.
      </p>
      <div class="dialog-buttons">
        <button type="button" onClick={onClose} autofocus>
          Close
        </button>
      </div>
    </dialog>
  );
}
