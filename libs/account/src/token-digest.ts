import { createHash } from 'node:crypto';

/**
 * What `accounts.token` and the cache's `account:<id>` hold for the current access token: its
 * SHA-256 (base64url, 43 characters), so neither a database dump nor a Redis dump gives a
 * usable token. The token check compares digests.
 */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
