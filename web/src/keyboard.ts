// The keys (also listed by `?`): j/k or arrows move, Enter opens, Esc goes
// back, / searches, Delete or # deletes, u toggles read, ? shows the keys.
// Keys typed into a field belong to the field, except Esc.
import { useEffect, useRef } from "preact/hooks";

export interface KeyActions {
  enabled: boolean;
  /** Arrows move the selection on the list; in a message they scroll it. */
  arrowsMove: boolean;
  onMove(delta: number): void;
  onOpen(): void;
  onBack(): void;
  onSearch(): void;
  onDelete(): void;
  onToggleRead(): void;
  onHelp(): void;
}

export const KEY_HELP: [string, string][] = [
  ["j / ↓", "next message"],
  ["k / ↑", "previous message"],
  ["Enter", "open the selected message"],
  ["Esc", "back to the list"],
  ["/", "search"],
  ["Delete / #", "delete the message"],
  ["u", "mark read / unread"],
  ["?", "show these keys"],
];

function inField(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.isContentEditable);
}

export function useKeyboard(actions: KeyActions): void {
  const ref = useRef(actions);
  ref.current = actions;
  useEffect(() => {
    const onKey = (ev: KeyboardEvent): void => {
      const a = ref.current;
      if (!a.enabled || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (inField(ev.target)) {
        if (ev.key === "Escape") (ev.target as HTMLElement).blur();
        return;
      }
      const run: Record<string, () => void> = {
        j: () => a.onMove(1),
        ArrowDown: () => (a.arrowsMove ? a.onMove(1) : undefined),
        k: () => a.onMove(-1),
        ArrowUp: () => (a.arrowsMove ? a.onMove(-1) : undefined),
        Enter: a.onOpen,
        Escape: a.onBack,
        "/": a.onSearch,
        Delete: a.onDelete,
        "#": a.onDelete,
        u: a.onToggleRead,
        "?": a.onHelp,
      };
      if (!a.arrowsMove && (ev.key === "ArrowDown" || ev.key === "ArrowUp")) return;
      const fn = run[ev.key];
      // Enter on a focused button or link keeps its own meaning
      if (!fn || (ev.key === "Enter" && (ev.target as HTMLElement).closest?.("button, a:not(.row)"))) return;
      ev.preventDefault();
      fn();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
}
