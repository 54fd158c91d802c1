import { createHash } from 'node:crypto';

/** Longest key a store keeps as is; anything longer is stored under a digest of itself. */
export const MAX_KEY_LENGTH = 200;

/**
 * Caps a key's length (SPEC §3 rate limits are keyed on request data): a key over
 * {@link MAX_KEY_LENGTH} characters becomes its first 100 characters plus a SHA-256 digest of the
 * whole, so a hostile key costs at most ~150 bytes in either store and still never collides.
 */
export function boundedKey(key: string): string {
  if (key.length <= MAX_KEY_LENGTH) return key;
  return `${key.slice(0, 100)}#${createHash('sha256').update(key).digest('base64url')}`;
}
