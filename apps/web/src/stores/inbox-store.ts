import { ref } from 'vue';
import { defineStore } from 'pinia';
import { messageApi } from '../api/endpoints';
import type { ConversationPage } from '../api/types';
import { createPoller } from '../composables/poller';

/** How often the nav's unread count is refreshed; the message screens poll faster themselves. */
const IDLE_POLL_MS = 10_000;
const FIRST_PAGE = 50;

/**
 * Unread direct messages for the nav badge (SPEC §8.2): the sum of `unread_count` over the newest
 * conversations, refreshed by polling while logged in, and at once by the message screens.
 */
export const useInboxStore = defineStore('inbox', () => {
  const unread = ref(0);
  const poller = createPoller(refresh, IDLE_POLL_MS);

  function apply(page: ConversationPage): void {
    unread.value = page.conversations.reduce((n, c) => n + c.unread_count, 0);
  }

  async function refresh(): Promise<void> {
    apply(await messageApi.conversations(FIRST_PAGE, 0));
  }

  /** Polling follows the session: on while logged in, off (and zero) otherwise. */
  function follow(loggedIn: boolean): void {
    if (loggedIn) {
      poller.start();
      poller.poke();
    } else {
      poller.stop();
      unread.value = 0;
    }
  }

  return { unread, apply, refresh: () => poller.poke(), follow, FIRST_PAGE };
});
