// "Deliver to app": shown only where the UI knows a delivery target (opened
// through `tun up --deliver`, whose proxy answers /api/v1/deliver); POSTs the
// message to the app again and shows what it answered in one line.
import { useEffect, useState } from "preact/hooks";
import { api, type DeliverResult, type DeliverTarget } from "../api.js";

/** The target, asked once per page load: it does not change while `tun up` runs. */
let targetOnce: Promise<DeliverTarget | null> | null = null;
function deliverTarget(): Promise<DeliverTarget | null> {
  targetOnce ??= api.deliverTarget().catch(() => null);
  return targetOnce;
}

function outcome(r: DeliverResult): string {
  if (r.status === null) return `Not delivered: ${r.error ?? "no answer"} (${r.ms} ms)`;
  return `App answered ${r.status} in ${r.ms} ms`;
}

export function DeliverAction({ id }: { id: string }) {
  const [target, setTarget] = useState<DeliverTarget | null>(null);
  const [busy, setBusy] = useState(false);
  const [line, setLine] = useState<{ text: string; ok: boolean } | null>(null);

  useEffect(() => {
    let live = true;
    void deliverTarget().then((t) => live && setTarget(t));
    return () => {
      live = false;
    };
  }, []);
  useEffect(() => setLine(null), [id]);

  if (!target) return null;
  const run = async (): Promise<void> => {
    setBusy(true);
    try {
      const r = await api.deliver(id);
      setLine({ text: outcome(r), ok: r.status !== null && r.status >= 200 && r.status < 300 });
    } catch (err) {
      setLine({ text: `Not delivered: ${err instanceof Error ? err.message : String(err)}`, ok: false });
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        onClick={() => void run()}
        disabled={busy}
        title={`POST this message to ${target.target} as ${target.format}`}
      >
        {busy ? "Delivering…" : "Deliver to app"}
      </button>
      <span class={line && !line.ok ? "deliver-result error" : "deliver-result"} role="status">
        {line?.text ?? ""}
      </span>
    </>
  );
}
