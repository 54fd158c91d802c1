import { computed, ref } from 'vue';
import { defineStore } from 'pinia';
import { accountApi } from '../api/endpoints';
import { configureAuth } from '../api/http-client';

const TOKEN_KEY = 'fsv.token';
const REFRESH_KEY = 'fsv.refresh';

interface Claims {
  account_id: number;
  username: string;
  exp?: number;
}

/** Reads the two claims web clients rely on (SPEC §2); the server verifies the signature. */
export function decodeClaims(token: string): Claims | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const json: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (!json || typeof json !== 'object') return null;
    const c = json as Record<string, unknown>;
    if (typeof c.account_id !== 'number' || typeof c.username !== 'string') return null;
    return {
      account_id: c.account_id,
      username: c.username,
      exp: typeof c.exp === 'number' ? c.exp : undefined,
    };
  } catch {
    return null;
  }
}

function readStorage(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeStorage(key: string, value: string | null): void {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    /* private mode: the session lives in memory only */
  }
}

export const useAuthStore = defineStore('auth', () => {
  const token = ref<string | null>(readStorage(TOKEN_KEY));
  const refreshToken = ref<string | null>(readStorage(REFRESH_KEY));
  const claims = computed(() => (token.value ? decodeClaims(token.value) : null));
  const accountId = computed(() => claims.value?.account_id ?? null);
  const username = computed(() => claims.value?.username ?? null);
  const loggedIn = computed(() => accountId.value !== null);
  let refreshing: Promise<string | null> | null = null;

  function setSession(next: string | null, nextRefresh?: string | null): void {
    token.value = next && decodeClaims(next) ? next : null;
    writeStorage(TOKEN_KEY, token.value);
    if (nextRefresh !== undefined) {
      refreshToken.value = nextRefresh;
      writeStorage(REFRESH_KEY, nextRefresh);
    }
  }

  async function login(name: string, password: string): Promise<void> {
    const res = await accountApi.login(name, password);
    setSession(res.token, res.refresh_token);
  }

  /** Ends the session locally; tells the server too unless it already revoked the token. */
  async function logout(notifyServer = true): Promise<void> {
    if (notifyServer && token.value) {
      try {
        await accountApi.logout();
      } catch {
        /* the local session ends whatever the server says */
      }
    }
    setSession(null, null);
  }

  async function tryRefresh(): Promise<string | null> {
    const rt = refreshToken.value;
    if (!rt) {
      setSession(null, null);
      return null;
    }
    refreshing ??= accountApi
      .refresh(rt)
      .then((res) => {
        setSession(res.token);
        return res.token;
      })
      .catch(() => {
        setSession(null, null);
        return null;
      })
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  }

  configureAuth({ token: () => token.value, onUnauthorized: () => tryRefresh() });

  return { token, accountId, username, loggedIn, setSession, login, logout };
});
