// The list's state: the loaded summaries (newest first, by id, ULIDs sort by
// arrival), the total for the current search, paging, selection, and the live
// updates. Stream frames are queued and applied once per animation frame, so a
// burst of hundreds of messages a second costs one render per frame.
import { api, ApiError, FIRST_PAGE_SIZE, PAGE_SIZE } from "./api.js";
import type { Message, ReadData, Summary } from "./types.js";

/** Longest wait before a search's first page is re-read after live mail arrives. */
const SEARCH_REFRESH_DELAY_MS = 100;
/** Deleted ids remembered for wasDeleted(); past this the memory starts over. */
const DELETED_IDS_KEPT = 10_000;

/** Drops the body fields a stream frame carries: the list keeps summaries only. */
function summaryOf(m: Message | Summary): Summary {
  const { id, receivedAt, envelope, from, to, cc, subject, size, attachmentCount, snippet } = m;
  return {
    id,
    receivedAt,
    envelope,
    from,
    to,
    cc,
    subject,
    size,
    attachmentCount,
    snippet,
    remoteIp: m.remoteIp,
    tls: m.tls,
    authUser: m.authUser,
    read: m.read ?? false,
  };
}

/** Merges `incoming` into `items` (both newest first); returns the merged list and how many were new. */
function mergeDesc(items: Summary[], incoming: Summary[]): [Summary[], number] {
  const fresh = [...incoming].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const out: Summary[] = [];
  let i = 0;
  let j = 0;
  let added = 0;
  while (i < items.length || j < fresh.length) {
    const a = items[i];
    const b = fresh[j];
    if (b === undefined || (a !== undefined && a.id > b.id)) {
      out.push(a!);
      i++;
    } else if (a !== undefined && a.id === b.id) {
      out.push(a);
      i++;
      j++;
    } else {
      if (out[out.length - 1]?.id !== b.id) {
        out.push(b);
        added++;
      }
      j++;
    }
  }
  return [out, added];
}

export class ListModel {
  items: Summary[] = [];
  total = 0;
  nextCursor: string | null = null;
  search = "";
  /** The server's message for a refused search, or a load failure. */
  error: string | null = null;
  loading = false;
  loaded = false;
  selectedId: string | null = null;
  version = 0;

  private generation = 0;
  private indexById: Map<string, number> | null = null;
  private readonly listeners = new Set<() => void>();
  private pendingMessages: Summary[] = [];
  private pendingDeleted: string[] = [];
  private pendingRead: ReadData[] = [];
  private frameRequested = false;
  /** Live messages that came before the first page: merged into it when it arrives. */
  private early: Summary[] = [];
  /** The stream's first hello has arrived (from then on no new message is missed). */
  private helloSeen = false;
  /** The first page was asked for before that hello: its head is read again after it. */
  private headStale = false;
  private searchRefresh: number | undefined;
  /** Ids this page deleted itself: their later `deleted` frame must not count them twice. */
  private readonly removedHere = new Set<string>();
  /** Ids deleted while this page was open, so an open message can say it is gone. */
  private readonly deletedIds = new Set<string>();

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    this.version++;
    this.indexById = null;
    for (const fn of this.listeners) fn();
  }

  indexOf(id: string | null): number {
    if (id === null) return -1;
    if (!this.indexById) this.indexById = new Map(this.items.map((m, i) => [m.id, i]));
    return this.indexById.get(id) ?? -1;
  }

  get(id: string): Summary | undefined {
    const i = this.indexOf(id);
    return i < 0 ? undefined : this.items[i];
  }

  /** Starts over with `search`: the first page, then more on loadMore(). */
  async setSearch(search: string): Promise<void> {
    const gen = ++this.generation;
    this.search = search;
    this.loading = true;
    this.error = null;
    this.changed();
    const afterHello = this.helloSeen;
    try {
      const page = await api.list(search, null, FIRST_PAGE_SIZE);
      if (gen !== this.generation) return;
      this.items = page.messages.map(summaryOf);
      this.total = page.total;
      if (!search.trim()) {
        // live mail can overtake the page: anything not in it is newer
        const [items, added] = mergeDesc(this.items, this.early);
        this.items = items;
        this.total += added;
      }
      this.early = [];
      if (!afterHello) {
        if (this.helloSeen) this.scheduleSearchRefresh(PAGE_SIZE);
        else this.headStale = true;
      }
      this.nextCursor = page.nextCursor;
      this.loaded = true;
      if (this.indexOf(this.selectedId) < 0) this.selectedId = this.items[0]?.id ?? null;
    } catch (err) {
      if (gen !== this.generation) return;
      this.items = [];
      this.total = 0;
      this.nextCursor = null;
      this.error = err instanceof ApiError ? err.message : String(err);
    }
    this.loading = false;
    this.changed();
  }

  async loadMore(): Promise<void> {
    if (this.loading || !this.nextCursor) return;
    const gen = this.generation;
    this.loading = true;
    try {
      const page = await api.list(this.search, this.nextCursor, PAGE_SIZE);
      if (gen !== this.generation) return;
      [this.items] = mergeDesc(this.items, page.messages.map(summaryOf));
      this.nextCursor = page.nextCursor;
    } catch (err) {
      if (gen === this.generation) this.error = err instanceof ApiError ? err.message : String(err);
    } finally {
      if (gen === this.generation) this.loading = false;
    }
    this.changed();
  }

  // ---- live updates: queued, applied once per frame ----

  private requestFrame(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => this.flush());
  }

  addLive(m: Message): void {
    this.pendingMessages.push(summaryOf(m));
    this.requestFrame();
  }

  removeLive(ids: string[]): void {
    this.pendingDeleted.push(...ids);
    this.requestFrame();
  }

  readLive(data: ReadData): void {
    this.pendingRead.push(data);
    this.requestFrame();
  }

  private flush(): void {
    this.frameRequested = false;
    const messages = this.pendingMessages;
    const deleted = this.pendingDeleted;
    const reads = this.pendingRead;
    this.pendingMessages = [];
    this.pendingDeleted = [];
    this.pendingRead = [];
    if (messages.length) {
      if (this.search.trim()) {
        // only the server knows whether new mail matches the search: re-read its newest page
        this.scheduleSearchRefresh(messages.length);
      } else if (this.loaded) {
        const [items, added] = mergeDesc(this.items, messages);
        this.items = items;
        this.total += added;
      } else {
        this.early.push(...messages);
      }
    }
    const others = deleted.filter((id) => !this.removedHere.delete(id));
    if (others.length) this.applyDeleted(others, !this.search.trim());
    for (const r of reads) this.applyRead(r.ids, r.read);
    this.changed();
  }

  /**
   * The stream is subscribed. The list and the stream start together (one
   * round trip less on load), so a message committed after the list was read
   * and before the subscription would be in neither: re-read the head once.
   */
  streamReady(): void {
    if (this.helloSeen) return;
    this.helloSeen = true;
    if (this.headStale) {
      this.headStale = false;
      this.scheduleSearchRefresh(PAGE_SIZE);
    }
  }

  /** Re-reads the newest page of the current search and merges it (also for live mail under a search). */
  private scheduleSearchRefresh(count: number): void {
    if (this.searchRefresh !== undefined) return;
    this.searchRefresh = window.setTimeout(async () => {
      this.searchRefresh = undefined;
      const gen = this.generation;
      try {
        const page = await api.list(this.search, null, Math.min(Math.max(count, 50), 1000));
        if (gen !== this.generation) return;
        [this.items] = mergeDesc(this.items, page.messages.map(summaryOf));
        // live mail merged after this page was read is not in its total
        const newest = page.messages[0]?.id ?? "";
        this.total = page.total + this.items.filter((m) => m.id > newest).length;
        this.loaded = true;
        this.changed();
      } catch {
        // the next live message tries again; a broken search already shows its error
      }
    }, SEARCH_REFRESH_DELAY_MS);
  }

  private applyDeleted(ids: string[], countAll: boolean): void {
    const gone = new Set(ids);
    if (this.deletedIds.size > DELETED_IDS_KEPT) this.deletedIds.clear();
    for (const id of ids) this.deletedIds.add(id);
    const before = this.items.length;
    const selectedIndex = this.indexOf(this.selectedId);
    this.items = this.items.filter((m) => !gone.has(m.id));
    const removed = before - this.items.length;
    this.total = Math.max(this.items.length, this.total - (countAll ? ids.length : removed));
    if (this.selectedId && gone.has(this.selectedId)) {
      this.selectedId = this.items[Math.min(selectedIndex, this.items.length - 1)]?.id ?? null;
    }
  }

  private applyRead(ids: string[], read: boolean): void {
    const set = new Set(ids);
    this.items = this.items.map((m) => (set.has(m.id) && m.read !== read ? { ...m, read } : m));
  }

  /** Local effect of the user's own action (the stream confirms it later; both are idempotent). */
  markRead(ids: string[], read: boolean): void {
    this.applyRead(ids, read);
    this.changed();
  }

  removeNow(ids: string[]): void {
    for (const id of ids) this.removedHere.add(id);
    this.applyDeleted(ids, false);
    this.changed();
  }

  wasDeleted(id: string): boolean {
    return this.deletedIds.has(id);
  }

  select(id: string | null): void {
    if (id === this.selectedId) return;
    this.selectedId = id;
    this.changed();
  }

  /** Moves the selection by `delta` rows; returns the new id. */
  move(delta: number): string | null {
    if (!this.items.length) return null;
    const i = this.indexOf(this.selectedId);
    const next = Math.max(0, Math.min(this.items.length - 1, (i < 0 ? -1 : i) + delta));
    this.select(this.items[next]!.id);
    if (next >= this.items.length - 20) void this.loadMore();
    return this.selectedId;
  }
}
