// Search box, live indicator, theme toggle and the keys button.
import type { RefObject } from "preact";
import { useState } from "preact/hooks";
import { listPath, onLinkClick } from "../router.js";
import type { LiveState } from "../stream.js";
import { applyTheme, loadTheme, nextTheme } from "../theme.js";

const LIVE_LABEL: Record<LiveState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
};

interface Props {
  live: LiveState;
  searchText: string;
  searchRef: RefObject<HTMLInputElement>;
  onSearchInput(text: string): void;
  onSearchSubmit(): void;
  onHelp(): void;
}

export function TopBar({ live, searchText, searchRef, onSearchInput, onSearchSubmit, onHelp }: Props) {
  const [theme, setTheme] = useState(loadTheme);
  const toggleTheme = (): void => {
    const next = nextTheme(theme);
    applyTheme(next);
    setTheme(next);
  };
  return (
    <header class="topbar">
      <a
        class="brand"
        href="/"
        onClick={(e) => onLinkClick(e, listPath(""))}
        aria-label="tun mail: all messages"
      >
        tun<span>mail</span>
      </a>
      <form
        class="search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          onSearchSubmit();
        }}
      >
        <input
          ref={searchRef}
          type="search"
          name="search"
          placeholder="Search: words, to:, from:, subject:, has:attachment, is:unread, after:…"
          aria-label="Search messages"
          autocomplete="off"
          spellcheck={false}
          value={searchText}
          onInput={(e) => onSearchInput(e.currentTarget.value)}
        />
      </form>
      <span class={`live live-${live}`} role="status" aria-live="polite" title="Stream connection">
        <span class="dot" aria-hidden="true" />
        <span class="live-label">{LIVE_LABEL[live]}</span>
      </span>
      <button
        type="button"
        class="icon"
        onClick={toggleTheme}
        aria-label={`Theme: ${theme} (switch to ${nextTheme(theme)})`}
        title={`Theme: ${theme}`}
      >
        {theme === "dark" ? "☾" : theme === "light" ? "☀" : "◐"}
      </button>
      <button type="button" class="icon" onClick={onHelp} aria-label="Keyboard shortcuts" title="Keys (?)">
        ?
      </button>
    </header>
  );
}
