import { getCurrentInstance, onBeforeUnmount } from 'vue';

export interface Poller {
  start: () => void;
  stop: () => void;
  /** Runs now (and restarts the interval), e.g. after the user did something. */
  poke: () => void;
  setInterval: (ms: number) => void;
}

/**
 * Calls `fn` every `everyMs` while the page is visible, one call at a time (the next waits for the
 * previous to settle); a hidden tab skips its turns and catches up as soon as it is shown again.
 */
export function createPoller(fn: () => Promise<unknown>, everyMs: number): Poller {
  let interval = everyMs;
  let timer: number | undefined;
  let running = false;
  let active = false;
  let again = false;

  const schedule = () => {
    window.clearTimeout(timer);
    if (active) timer = window.setTimeout(() => void tick(), interval);
  };
  async function tick(): Promise<void> {
    if (!active) return;
    if (running) {
      again = true;
      return;
    }
    if (document.hidden) return schedule();
    running = true;
    try {
      await fn();
    } catch {
      /* the next turn tries again */
    } finally {
      running = false;
      if (again) {
        again = false;
        void tick();
      } else schedule();
    }
  }
  const onVisible = () => {
    if (!document.hidden) void tick();
  };

  return {
    start: () => {
      if (active) return;
      active = true;
      document.addEventListener('visibilitychange', onVisible);
      schedule();
    },
    stop: () => {
      active = false;
      window.clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    },
    poke: () => void tick(),
    setInterval: (ms) => {
      interval = ms;
      schedule();
    },
  };
}

/** A poller tied to the calling component: started now, stopped when it unmounts. */
export function usePolling(fn: () => Promise<unknown>, everyMs: number): Poller {
  const p = createPoller(fn, everyMs);
  p.start();
  if (getCurrentInstance()) onBeforeUnmount(p.stop);
  return p;
}
