import { ref } from 'vue';
import { defineStore } from 'pinia';

export interface Toast {
  id: number;
  text: string;
  kind: 'info' | 'error';
}

/** Page-wide state: sound on/off for every player, and short toasts. */
export const useUiStore = defineStore('ui', () => {
  const muted = ref(true);
  const toasts = ref<Toast[]>([]);
  let nextId = 1;

  function toast(text: string, kind: Toast['kind'] = 'info'): void {
    const id = nextId++;
    toasts.value = [...toasts.value, { id, text, kind }];
    window.setTimeout(() => {
      toasts.value = toasts.value.filter((t) => t.id !== id);
    }, 3500);
  }

  return { muted, toasts, toast };
});
