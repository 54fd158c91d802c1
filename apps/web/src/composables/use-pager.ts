import { ref, shallowRef, type Ref } from 'vue';
import { errorMessage } from '../api/http-client';

export interface Page<T, C> {
  items: T[];
  cursor: C;
  hasMore: boolean;
}

export interface Pager<T> {
  items: Ref<T[]>;
  loading: Ref<boolean>;
  error: Ref<string | null>;
  hasMore: Ref<boolean>;
  /** True once the first page has arrived (or failed). */
  started: Ref<boolean>;
  loadMore: () => Promise<void>;
  reset: () => Promise<void>;
}

/** Cursor paging shared by every list: one request at a time, errors kept for a retry. */
export function usePager<T, C>(
  initial: () => C,
  fetchPage: (cursor: C) => Promise<Page<T, C>>,
  keyOf?: (item: T) => number | string,
): Pager<T> {
  const items = ref<T[]>([]) as Ref<T[]>;
  const loading = ref(false);
  const error = ref<string | null>(null);
  const hasMore = ref(true);
  const started = ref(false);
  const cursor = shallowRef<C>(initial());
  let generation = 0;

  async function loadMore(): Promise<void> {
    if (loading.value || !hasMore.value) return;
    const gen = generation;
    loading.value = true;
    error.value = null;
    try {
      const page = await fetchPage(cursor.value);
      if (gen !== generation) return;
      if (keyOf) {
        const seen = new Set(items.value.map(keyOf));
        items.value = [...items.value, ...page.items.filter((i) => !seen.has(keyOf(i)))];
      } else {
        items.value = [...items.value, ...page.items];
      }
      cursor.value = page.cursor;
      hasMore.value = page.hasMore && page.items.length > 0;
    } catch (e) {
      if (gen !== generation) return;
      error.value = errorMessage(e);
    } finally {
      if (gen === generation) {
        loading.value = false;
        started.value = true;
      }
    }
  }

  async function reset(): Promise<void> {
    generation++;
    items.value = [];
    cursor.value = initial();
    hasMore.value = true;
    loading.value = false;
    error.value = null;
    started.value = false;
    await loadMore();
  }

  return { items, loading, error, hasMore, started, loadMore, reset };
}
