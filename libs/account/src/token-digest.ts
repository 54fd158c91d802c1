import { createHash } from 'node:crypto';
import { ExpiringMap } from '@app/core';

/** Digests of the tokens seen recently (the oldest forgotten first beyond 10,000). */
const memo = new ExpiringMap<string>(10_000);

/**
 * What `accounts.token` and the cache's `account:<id>` hold for the current access token: its
 * SHA-256 (base64url, 43 characters), so neither a database dump nor a Redis dump gives a
 * usable token. The token check compares digests; a token's digest is computed once and
 * remembered for its next requests (a pure function of the token: ~15 µs saved per request).
 */
export function tokenDigest(token: string): string {
  let digest = memo.get(token);
  if (digest === undefined) {
    digest = createHash('sha256').update(token).digest('base64url');
    memo.set(token, digest, Infinity);
  }
  return digest;
}
