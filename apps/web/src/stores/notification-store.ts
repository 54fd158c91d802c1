import { ref, watch } from 'vue';
import { defineStore } from 'pinia';
import { notificationApi } from '../api/endpoints';
import { API_PREFIX } from '../api/http-client';
import type { AppNotification } from '../api/types';
import { useAuthStore } from './auth-store';

/** After the stream is refused (an HTTP error: EventSource then gives up), try again this much later. */
const RETRY_MS = 30_000;
/** The badge's count is re-read this long after a burst of live events (the server's count is exact). */
const RECOUNT_MS = 500;
/** Live notifications kept for the notifications screen. */
const KEEP = 100;

/**
 * Notifications (SPEC §8.4): the unread count behind the bell, kept live by the server's event
 * stream (`EventSource` on `/api/notification/stream?token=…`), and the notifications that arrived
 * live. EventSource reconnects by itself after a network error, sending `Last-Event-ID`; when it
 * has to be recreated (another token, a refusal) `last_event_id` carries the same in the URL, so
 * nothing is missed. A stream closed because the account opened a sixth (`superseded`) stays
 * closed until this tab is shown again; one closed because the token was revoked reopens when
 * the session has a new token (or ends with it).
 */
export const useNotificationStore = defineStore('notifications', () => {
  const auth = useAuthStore();
  const unread = ref(0);
  /** Newest first: what arrived live since this page was loaded. */
  const live = ref<AppNotification[]>([]);
  const connected = ref(false);
  let source: EventSource | null = null;
  let lastEventId = 0;
  let active = false;
  /** The account the stream and the ids above belong to. */
  let owner: number | null = null;
  let paused = false;
  let retry: number | undefined;
  let recount: number | undefined;

  async function refreshCount(): Promise<void> {
    try {
      unread.value = (await notificationApi.unreadCount()).count;
    } catch {
      /* the next event or reconnect tries again */
    }
  }

  function recountSoon(): void {
    window.clearTimeout(recount);
    recount = window.setTimeout(() => void refreshCount(), RECOUNT_MS);
  }

  function streamUrl(token: string): string {
    const q = new URLSearchParams({ token });
    if (lastEventId > 0) q.set('last_event_id', String(lastEventId));
    return `${API_PREFIX}/notification/stream?${q.toString()}`;
  }

  function close(): void {
    window.clearTimeout(retry);
    source?.close();
    source = null;
    connected.value = false;
  }

  function open(): void {
    close();
    const token = auth.token;
    if (!active || !token || paused) return;
    const es = new EventSource(streamUrl(token));
    source = es;
    es.addEventListener('open', () => {
      connected.value = true;
      void refreshCount();
    });
    es.addEventListener('notification', (ev: MessageEvent<string>) => {
      const n = JSON.parse(ev.data) as AppNotification;
      lastEventId = Math.max(lastEventId, Number(ev.lastEventId) || n.id);
      if (live.value.some((x) => x.id === n.id)) return;
      live.value = [n, ...live.value].slice(0, KEEP);
      if (!n.is_read) unread.value++;
      recountSoon();
    });
    es.addEventListener('read', (ev: MessageEvent<string>) => {
      const { id } = JSON.parse(ev.data) as { id: number };
      markedRead(id === 0 ? undefined : id);
      recountSoon();
    });
    es.addEventListener('revoked', () => {
      // A new token (rename, refresh) reopens it at once. No api call from here: this event can
      // overtake the response that carries the new token, and a call with the old one would end
      // the session. Still refused later, the error below lets the session refresh or end.
      close();
      retry = window.setTimeout(open, RETRY_MS);
    });
    es.addEventListener('superseded', () => {
      close();
      paused = true;
    });
    es.addEventListener('error', () => {
      connected.value = false;
      if (es.readyState !== EventSource.CLOSED || source !== es) return; // reconnecting by itself
      source = null;
      void refreshCount();
      retry = window.setTimeout(open, RETRY_MS);
    });
  }

  function markedRead(id?: number): void {
    live.value = live.value.map((n) => (id === undefined || n.id === id ? { ...n, is_read: true } : n));
  }

  /** Marks one (or, without an id, every) notification read. */
  async function markRead(id?: number): Promise<void> {
    await notificationApi.markRead(id);
    markedRead(id);
    if (id === undefined) unread.value = 0;
    else unread.value = Math.max(0, unread.value - 1);
    recountSoon();
  }

  function onVisible(): void {
    if (document.hidden || !active) return;
    if (paused || !source) {
      paused = false;
      open();
    }
  }

  /** The stream follows the session: open while logged in (again with each new token), else closed. */
  function follow(loggedIn: boolean): void {
    active = loggedIn;
    if (owner !== auth.accountId) {
      owner = auth.accountId;
      live.value = [];
      lastEventId = 0;
    }
    if (loggedIn) {
      document.addEventListener('visibilitychange', onVisible);
      void refreshCount();
      open();
    } else {
      document.removeEventListener('visibilitychange', onVisible);
      close();
      unread.value = 0;
    }
  }

  watch(
    () => auth.token,
    (token, before) => {
      if (active && token && token !== before) open();
    },
  );

  return { unread, live, connected, markRead, refreshCount, follow };
});
