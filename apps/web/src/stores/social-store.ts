import { ref } from 'vue';
import { defineStore } from 'pinia';
import { socialApi } from '../api/endpoints';
import { ApiError } from '../api/http-client';
import { useAuthStore } from './auth-store';

/** Who the logged-in account follows, so every follow button agrees and updates at once. */
export const useSocialStore = defineStore('social', () => {
  const following = ref(new Set<number>());
  const loadedFor = ref<number | null>(null);
  let loading: Promise<void> | null = null;

  async function load(me: number): Promise<void> {
    const next = new Set<number>();
    let cursor = 0;
    for (let guard = 0; guard < 50; guard++) {
      const page = await socialApi.vloggers(me, 200, cursor);
      for (const a of page.vloggers) next.add(a.id);
      if (page.vloggers.length < 200) break;
      cursor = page.vloggers[page.vloggers.length - 1].follow_id;
    }
    following.value = next;
    loadedFor.value = me;
  }

  function ensureLoaded(): Promise<void> {
    const auth = useAuthStore();
    const me = auth.accountId;
    if (me === null) {
      following.value = new Set();
      loadedFor.value = null;
      return Promise.resolve();
    }
    if (loadedFor.value === me) return Promise.resolve();
    loading ??= load(me)
      .catch(() => undefined)
      .finally(() => {
        loading = null;
      });
    return loading;
  }

  function isFollowing(id: number): boolean {
    return following.value.has(id);
  }

  function set(id: number, on: boolean): void {
    const next = new Set(following.value);
    if (on) next.add(id);
    else next.delete(id);
    following.value = next;
  }

  /** Optimistic: flips at once, rolls back if the server refuses (409 means it already agreed). */
  async function toggle(id: number): Promise<boolean> {
    const was = isFollowing(id);
    set(id, !was);
    try {
      if (was) await socialApi.unfollow(id);
      else await socialApi.follow(id);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) return !was;
      set(id, was);
      throw e;
    }
    return !was;
  }

  function reset(): void {
    following.value = new Set();
    loadedFor.value = null;
  }

  return { following, ensureLoaded, isFollowing, toggle, reset };
});
