// The page: top bar (search, live state, actions), the list, the open
// message, the keyboard, and the dialogs.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError } from "../api.js";
import type { ListModel } from "../list-model.js";
import { listPath, messagePath, navigate, useRoute } from "../router.js";
import { connectStream, type LiveState } from "../stream.js";
import { useModel } from "../use-model.js";
import { useKeyboard } from "../keyboard.js";
import { ConfirmDialog, type ConfirmRequest } from "./ConfirmDialog.js";
import { HelpDialog } from "./HelpDialog.js";
import { MessageList } from "./MessageList.js";
import { MessageView } from "./MessageView.js";
import { TopBar } from "./TopBar.js";

/** Typing pauses this long before the search runs (Enter runs it at once). */
const SEARCH_DEBOUNCE_MS = 250;

/** `model` has been asked for the route's first page already (main.tsx). */
export function App({ model }: { model: ListModel }) {
  useModel(model);
  const route = useRoute();
  const [live, setLive] = useState<LiveState>("connecting");
  const [searchText, setSearchText] = useState(route.search);
  const [helpOpen, setHelpOpen] = useState(false);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const debounce = useRef<number>();

  useEffect(() => {
    // the list (main.tsx) and the stream start together; the model closes the gap between them
    const stream = connectStream({
      onState: setLive,
      onHello: () => model.streamReady(),
      onMessage: (m) => model.addLive(m),
      onDeleted: (ids) => model.removeLive(ids),
      onRead: (data) => model.readLive(data),
    });
    return () => stream.close();
  }, [model]);

  // back/forward to a different search, or a link with ?search=
  useEffect(() => {
    if (route.search === model.search) return;
    setSearchText(route.search);
    void model.setSearch(route.search);
  }, [route.search]);

  const runSearch = (text: string): void => {
    window.clearTimeout(debounce.current);
    navigate(route.messageId ? messagePath(route.messageId, text) : listPath(text), true);
    if (text !== model.search) void model.setSearch(text);
  };
  const onSearchInput = (text: string): void => {
    setSearchText(text);
    window.clearTimeout(debounce.current);
    debounce.current = window.setTimeout(() => runSearch(text), SEARCH_DEBOUNCE_MS);
  };

  const report = (err: unknown): void => setNotice(err instanceof ApiError ? err.message : String(err));

  const open = (id: string): void => {
    model.select(id);
    navigate(messagePath(id, model.search));
  };
  const back = (): void => navigate(listPath(model.search));

  const deleteOne = async (id: string): Promise<void> => {
    const i = model.indexOf(id);
    try {
      await api.remove(id);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) return report(err);
    }
    model.removeNow([id]);
    const next = model.items[Math.min(i, model.items.length - 1)];
    model.select(next?.id ?? null);
    if (route.messageId === id) navigate(next ? messagePath(next.id, model.search) : listPath(model.search));
  };

  const setRead = async (id: string, read: boolean): Promise<void> => {
    model.markRead([id], read);
    await api.setRead(id, read).catch(report);
  };

  const markAllRead = async (): Promise<void> => {
    try {
      await api.markAllRead(model.search);
      model.markRead(
        model.items.map((m) => m.id),
        true,
      );
    } catch (err) {
      report(err);
    }
  };

  const askDeleteMatching = (): void => {
    const count = model.total;
    const search = model.search.trim();
    setConfirm({
      title: search ? "Delete matching messages" : "Delete all messages",
      body: search
        ? `Delete the ${count} message${count === 1 ? "" : "s"} matching “${search}”? This cannot be undone.`
        : `Delete all ${count} message${count === 1 ? "" : "s"}? This cannot be undone.`,
      confirmLabel: `Delete ${count}`,
      run: async () => {
        try {
          const { deleted } = await api.removeMatching(search);
          setNotice(`Deleted ${deleted} message${deleted === 1 ? "" : "s"}.`);
          await model.setSearch(model.search);
        } catch (err) {
          report(err);
        }
      },
    });
  };

  const current = route.messageId ?? model.selectedId;
  useKeyboard({
    enabled: !helpOpen && !confirm,
    arrowsMove: route.messageId === null,
    onMove: (delta) => {
      const id = model.move(delta);
      if (route.messageId && id) navigate(messagePath(id, model.search), true);
    },
    onOpen: () => model.selectedId && !route.messageId && open(model.selectedId),
    onBack: () => (route.messageId ? back() : searchRef.current?.blur()),
    onSearch: () => searchRef.current?.focus(),
    onDelete: () => current && void deleteOne(current),
    onToggleRead: () => {
      if (!current) return;
      const known = model.get(current);
      void setRead(current, !(known?.read ?? true));
    },
    onHelp: () => setHelpOpen(true),
  });

  return (
    <div class="app">
      <TopBar
        live={live}
        searchText={searchText}
        searchRef={searchRef}
        onSearchInput={onSearchInput}
        onSearchSubmit={() => runSearch(searchText)}
        onHelp={() => setHelpOpen(true)}
      />
      {notice && (
        <div class="notice" role="status">
          <span>{notice}</span>
          <button type="button" class="link" onClick={() => setNotice(null)} aria-label="Dismiss">
            ✕
          </button>
        </div>
      )}
      <main class="main">
        <MessageList
          model={model}
          hidden={route.messageId !== null}
          onOpen={open}
          onMarkAllRead={markAllRead}
          onDeleteMatching={askDeleteMatching}
        />
        {route.messageId && (
          <MessageView
            key={route.messageId}
            id={route.messageId}
            model={model}
            onBack={back}
            onDelete={deleteOne}
            onSetRead={setRead}
          />
        )}
      </main>
      <HelpDialog open={helpOpen} onClose={() => setHelpOpen(false)} />
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </div>
  );
}
