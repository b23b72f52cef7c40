// A modal confirmation (native <dialog>: focus trap, Esc and backdrop for free).
import { useEffect, useRef, useState } from "preact/hooks";

export interface ConfirmRequest {
  title: string;
  body: string;
  confirmLabel: string;
  run(): Promise<void>;
}

export function ConfirmDialog({ request, onClose }: { request: ConfirmRequest | null; onClose(): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (request && !d.open) d.showModal();
    if (!request && d.open) d.close();
  }, [request]);
  return (
    <dialog ref={ref} class="dialog" onClose={onClose} aria-labelledby="confirm-title">
      {request && (
        <form
          method="dialog"
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            await request.run();
            setBusy(false);
            onClose();
          }}
        >
          <h2 id="confirm-title">{request.title}</h2>
          <p data-testid="confirm-body">{request.body}</p>
          <div class="dialog-buttons">
            <button type="button" onClick={onClose} autofocus>
              Cancel
            </button>
            <button type="submit" class="danger" disabled={busy}>
              {request.confirmLabel}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
