// The list, virtualised: only the rows in view (plus a margin) are in the
// DOM, so 50,000 loaded summaries scroll like 50. The next page is fetched
// when the end comes into view.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { formatListTime, formatSize, shortAddresses, shown } from "../display.js";
import type { ListModel } from "../list-model.js";
import { onLinkClick } from "../router.js";
import type { Summary } from "../types.js";

/** Height of one row in px; styles.css sets the same (--row-h). */
export const ROW_HEIGHT_PX = 68;
/** Rows rendered above and below the visible ones. */
const OVERSCAN_ROWS = 10;
/** Fetch the next page when this many rows remain below the view. */
const LOAD_AHEAD_ROWS = 50;

interface Props {
  model: ListModel;
  hidden: boolean;
  onOpen(id: string): void;
  onMarkAllRead(): void;
  onDeleteMatching(): void;
}

/** Drawn, not an emoji: no emoji font is needed. */
function PaperClip() {
  return (
    <svg viewBox="0 0 16 16" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.5">
      <path d="M10.5 4.5 5.8 9.2a1.5 1.5 0 0 0 2.1 2.1l5-5a3 3 0 0 0-4.2-4.2l-5 5a4.5 4.5 0 0 0 6.4 6.4l4.2-4.2" />
    </svg>
  );
}

function Row({
  m,
  index,
  selected,
  onOpen,
  onFocus,
}: {
  m: Summary;
  index: number;
  selected: boolean;
  onOpen(id: string): void;
  onFocus(id: string): void;
}) {
  const from = shown(m.from ? m.from.name || m.from.address : m.envelope.from) || "(no sender)";
  const to = m.to.length ? shortAddresses(m.to) : shown(m.envelope.to.join(", "));
  return (
    <li class="row-slot" style={{ transform: `translateY(${index * ROW_HEIGHT_PX}px)` }}>
      <a
        class={`row${m.read ? "" : " unread"}${selected ? " selected" : ""}`}
        href={`/messages/${m.id}`}
        data-id={m.id}
        aria-current={selected ? "true" : undefined}
        onClick={(e) => {
          onLinkClick(e, `/messages/${m.id}`);
          if (e.defaultPrevented) onOpen(m.id);
        }}
        onFocus={() => onFocus(m.id)}
      >
        <span class="from" title={shown(m.from?.address ?? m.envelope.from)}>
          {!m.read && <span class="sr-only">Unread. </span>}
          {from}
        </span>
        <span class="to" title={shown(m.envelope.to.join(", "))}>
          <span class="sr-only">to </span>→ {to}
        </span>
        <span class="time" title={new Date(m.receivedAt).toISOString()}>
          {formatListTime(m.receivedAt)}
        </span>
        <span class="subject">{shown(m.subject) || "(no subject)"}</span>
        <span class="snippet">{shown(m.snippet)}</span>
        <span class="markers">
          {m.attachmentCount > 0 && (
            <span class="marker" title={`${m.attachmentCount} attachment(s)`}>
              <PaperClip />
              {m.attachmentCount}
              <span class="sr-only"> attachment(s)</span>
            </span>
          )}
          {m.tls && (
            <span class="marker" title="received over TLS">
              TLS
            </span>
          )}
          {m.authUser && (
            <span class="marker" title={`SMTP AUTH user ${shown(m.authUser)}`}>
              AUTH {shown(m.authUser)}
            </span>
          )}
          <span class="size">{formatSize(m.size)}</span>
        </span>
      </a>
    </li>
  );
}

export function MessageList({ model, hidden, onOpen, onMarkAllRead, onDeleteMatching }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewHeight, setViewHeight] = useState(800);
  const { items, total, search, error, loading, loaded } = model;

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setViewHeight(el.clientHeight || 800));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // keep the keyboard's selection in view and focused
  const selectedIndex = model.indexOf(model.selectedId);
  useEffect(() => {
    const el = scroller.current;
    if (!el || hidden || selectedIndex < 0) return;
    const top = selectedIndex * ROW_HEIGHT_PX;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT_PX > el.scrollTop + el.clientHeight)
      el.scrollTop = top + ROW_HEIGHT_PX - el.clientHeight;
    // focus follows the selection unless the user is somewhere else (the search box, a button)
    if (el.contains(document.activeElement) || document.activeElement === document.body) {
      el.querySelector<HTMLElement>(`a[data-id="${model.selectedId}"]`)?.focus({ preventScroll: true });
    }
  }, [model.selectedId, hidden]);

  const start = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT_PX) - OVERSCAN_ROWS);
  const end = Math.min(items.length, Math.ceil((scrollTop + viewHeight) / ROW_HEIGHT_PX) + OVERSCAN_ROWS);
  useEffect(() => {
    if (!hidden && end >= items.length - LOAD_AHEAD_ROWS && model.nextCursor) void model.loadMore();
  }, [end, items.length, hidden]);

  const rows = [];
  const indexes: number[] = [];
  for (let i = start; i < end; i++) indexes.push(i);
  // the selected row stays in the DOM so it can keep focus while far from the view
  if (selectedIndex >= 0 && (selectedIndex < start || selectedIndex >= end)) indexes.push(selectedIndex);
  for (const i of indexes) {
    const m = items[i]!;
    rows.push(
      <Row
        key={m.id}
        m={m}
        index={i}
        selected={m.id === model.selectedId}
        onOpen={onOpen}
        onFocus={(id) => model.select(id)}
      />,
    );
  }
  const unread = items.some((m) => !m.read);
  return (
    <section class="list-pane" hidden={hidden} aria-label="Messages">
      <div class="list-toolbar">
        <span class="count" role="status" data-testid="result-count">
          {error
            ? ""
            : !loaded
              ? "Loading…"
              : search.trim()
                ? `${total} matching`
                : `${total} message${total === 1 ? "" : "s"}`}
        </span>
        <span class="spacer" />
        <button type="button" onClick={onMarkAllRead} disabled={!unread && !search.trim()}>
          Mark all read
        </button>
        <button type="button" class="danger" onClick={onDeleteMatching} disabled={total === 0}>
          {search.trim() ? "Delete matching…" : "Delete all…"}
        </button>
      </div>
      {error && (
        <p class="error" role="alert" data-testid="search-error">
          {error}
        </p>
      )}
      <div class="list-scroller" ref={scroller} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
        {loaded && !error && items.length === 0 && (
          <p class="empty">
            {search.trim()
              ? "No message matches this search."
              : "No mail yet. Send some to the sink's SMTP port and it shows up here at once."}
          </p>
        )}
        <ul class="rows" style={{ height: `${items.length * ROW_HEIGHT_PX}px` }}>
          {rows}
        </ul>
        {loading && loaded && <p class="more">Loading more…</p>}
      </div>
    </section>
  );
}
