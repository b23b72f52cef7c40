// Client-side routing over real paths: / (the list, ?search=…) and
// /messages/<id>. The sink answers both with index.html, so reload, back and
// forward behave as on any site.
import { useEffect, useState } from "preact/hooks";

export interface Route {
  /** The open message, or null on the list. */
  messageId: string | null;
  search: string;
}

const MESSAGE_PATH_RE = /^\/messages\/([0-9A-Za-z]{26})$/;

export function currentRoute(): Route {
  const m = MESSAGE_PATH_RE.exec(location.pathname);
  return {
    messageId: m ? m[1]!.toUpperCase() : null,
    search: new URLSearchParams(location.search).get("search") ?? "",
  };
}

const listeners = new Set<() => void>();
window.addEventListener("popstate", () => listeners.forEach((fn) => fn()));

export function listPath(search: string): string {
  return search.trim() ? `/?${new URLSearchParams({ search: search.trim() })}` : "/";
}

export function messagePath(id: string, search: string): string {
  return search.trim()
    ? `/messages/${id}?${new URLSearchParams({ search: search.trim() })}`
    : `/messages/${id}`;
}

/** Goes to `path`; `replace` keeps history from filling up (typing a search). */
export function navigate(path: string, replace = false): void {
  if (path === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  listeners.forEach((fn) => fn());
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const fn = (): void => setRoute(currentRoute());
    listeners.add(fn);
    return () => void listeners.delete(fn);
  }, []);
  return route;
}

/** Click handler for in-app links: plain left clicks navigate without a reload. */
export function onLinkClick(ev: MouseEvent, path: string): void {
  if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  navigate(path);
}
