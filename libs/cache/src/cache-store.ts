import type { Cluster, Redis } from 'ioredis';
import type { NearCache } from './near-cache';

export type DependencyState = 'up' | 'down' | 'disabled';

/** The raw client `withRedis` hands out: one server, or a cluster (same commands, keys in one slot). */
export type RedisClient = Redis | Cluster;

/**
 * A SET that travels with another write (a change's new video-list generation, say): on one Redis
 * server in the same script, so both land at once; on a cluster (another slot) as its own command
 * once the write has landed; in process at once. Either way never before the write.
 */
export interface AlsoSet {
  key: string;
  value: string;
  ttlMs: number;
}

/**
 * What the rest of the code sees of the cache: Redis when `REDIS_URL` or `REDIS_CLUSTER_NODES` is set, else an
 * in-process map. Keys are passed WITHOUT the configured prefix; stores add it. No method
 * throws: a Redis error or timeout reads as a miss (`null`) or a failed write (`false`), so
 * callers fall back to the database.
 */
export abstract class CacheStore {
  abstract readonly kind: 'redis' | 'memory';
  /** `up`/`down` for Redis (breaker closed/open), `disabled` for the in-process store. */
  abstract state(): DependencyState;
  /** {@link state}, checked with Redis where it may be stale (`/healthz` of an idle process); never throws. */
  probe(): Promise<DependencyState> {
    return Promise.resolve(this.state());
  }
  abstract get(key: string): Promise<string | null>;
  abstract mget(keys: string[]): Promise<(string | null)[]>;
  abstract set(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** SET NX PX; `null` when the store is unavailable (callers decide how to degrade). */
  abstract setNx(key: string, value: string, ttlMs: number): Promise<boolean | null>;
  abstract del(...keys: string[]): Promise<boolean>;
  /** Deletes `key` only while it still holds `value` (lock release). */
  abstract delIfEquals(key: string, value: string): Promise<boolean>;
  /**
   * A rebuild's lock and a second look: SET NX PX of `lockKey`, and when it was taken, what `key`
   * holds now (filled since the caller's miss, e.g. by another process). `got` is null when the
   * store is unavailable. Redis answers both in one script where the two keys may meet.
   */
  async lockAndPeek(
    lockKey: string,
    token: string,
    ttlMs: number,
    key: string,
  ): Promise<{ got: boolean | null; value: string | null }> {
    const got = await this.setNx(lockKey, token, ttlMs);
    return { got, value: got ? await this.get(key) : null };
  }
  /**
   * A rebuild's fill and its lock's release: SET PX of `key`, then `lockKey` deleted while it still
   * holds `token`. False when the fill failed or the store did not answer (the caller then
   * releases the lock again: a release that did happen is not undone by that).
   */
  async setAndUnlock(
    key: string,
    value: string,
    ttlMs: number,
    lockKey: string,
    token: string,
  ): Promise<boolean> {
    const done = await this.set(key, value, ttlMs);
    await this.delIfEquals(lockKey, token);
    return done;
  }
  /**
   * A guarded rebuild's fill ({@link fillIfUnchanged}) and its lock's release: true when the
   * release was carried out (whether or not the stamp let the fill land), false when the store did
   * not answer (the caller then releases again).
   */
  async fillIfUnchangedAndUnlock(
    key: string,
    stamp: string | null,
    value: string,
    ttlMs: number,
    lockKey: string,
    token: string,
  ): Promise<boolean> {
    await this.fillIfUnchanged(key, stamp, value, ttlMs);
    return this.delIfEquals(lockKey, token);
  }
  /**
   * SET PX only while `key` still holds `expected` (compare-and-set: a fill that must not land
   * over an invalidation written since it read). False when it did not, or when unavailable.
   */
  abstract replaceIfEquals(key: string, expected: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * A change of what `key` caches: in one step, `key`'s change stamp gets a new unique value (kept
   * `stampTtlMs`) and `key` is deleted, or set to `mark` (for its `ttlMs`) when given. With
   * {@link changeStamps} and {@link fillIfUnchanged}, a fill whose load began before the change
   * never lands. The stamp shares the key's cluster slot. `also` is set with the change
   * ({@link AlsoSet}). False when unavailable.
   */
  abstract markChanged(
    key: string,
    stampTtlMs: number,
    mark?: { value: string; ttlMs: number },
    also?: AlsoSet,
  ): Promise<boolean>;
  /** The change stamps of `keys` (null: no change within a stamp's lifetime); undefined when unavailable. */
  abstract changeStamps(keys: string[]): Promise<(string | null)[] | undefined>;
  /**
   * {@link mget} of `keys` with their change stamps read no later than the values (so before any
   * load a miss then starts: a {@link fillIfUnchanged} with such a stamp is refused after a change
   * made since). `stamps[i]` is `keys[i]`'s, meaningful where `values[i]` missed; `stamps`
   * undefined when they could not be read. Here two reads, the stamps of the misses only; one
   * Redis server reads both in one command (a page's misses then cost no round trip of their own).
   */
  async mgetWithStamps(
    keys: string[],
  ): Promise<{ values: (string | null)[]; stamps: (string | null)[] | undefined }> {
    const values = await this.mget(keys);
    const missed = keys.filter((_, i) => values[i] === null || values[i] === undefined);
    if (missed.length === 0) return { values, stamps: keys.map(() => null) };
    const read = await this.changeStamps(missed);
    if (read === undefined) return { values, stamps: undefined };
    const of = new Map(missed.map((k, i) => [k, read[i] ?? null]));
    return { values, stamps: keys.map((k) => of.get(k) ?? null) };
  }
  /**
   * SET NX PX of `key`, only while its change stamp still is `stamp` (read before the load): a
   * change since then refuses the fill. False when refused or unavailable.
   */
  abstract fillIfUnchanged(key: string, stamp: string | null, value: string, ttlMs: number): Promise<boolean>;
  /** {@link fillIfUnchanged} of several keys (a feed page's missing items), each on its own terms. */
  async fillManyIfUnchanged(
    fills: readonly { key: string; stamp: string | null; value: string }[],
    ttlMs: number,
  ): Promise<void> {
    await Promise.all(fills.map((f) => this.fillIfUnchanged(f.key, f.stamp, f.value, ttlMs)));
  }
  /** INCR + PEXPIRE on first hit; returns the count and the ms left in the window, or null when unavailable. */
  abstract hit(key: string, windowMs: number): Promise<{ count: number; ttlMs: number } | null>;
  /**
   * Takes one hit back (a rate limit that counts only failed attempts, after a success); never
   * creates the key nor extends its window. Resolves false when the store is unavailable.
   */
  unhit(_key: string): Promise<boolean> {
    return Promise.resolve(false);
  }
  abstract pexpire(key: string, ttlMs: number): Promise<boolean>;
  /**
   * Runs raw commands on the Redis client (scripts, sorted sets) behind the timeout and the
   * breaker. Resolves `undefined` when Redis is not configured, down, or the call failed; with
   * `read` (the op reads cached values a response is built from), also for a short while after
   * Redis came back (`SETTLE_AFTER_RECOVERY_MS`), as `get` and `mget` answer misses then. A `read`
   * op sends one command or runs one script (commands sent together, on a cluster), as does any op
   * with `oneCommand`: on one server it is bounded by its commands' own timeout, with no timer of
   * its own. `writes`: the keys (without the prefix) a non-`read` op may write, `[]` for none;
   * without it, values held near ({@link nearCache}) are not used until Redis has told what the
   * op changed.
   */
  abstract withRedis<T>(
    op: (redis: RedisClient, prefix: string) => Promise<T>,
    read?: boolean,
    oneCommand?: boolean,
    writes?: readonly string[],
  ): Promise<T | undefined>;
  /**
   * Values of a few hot keys held in this process and kept current by Redis ({@link NearCache}),
   * when they may be used now; undefined for the in-process store, a cluster, or while Redis is
   * not trusted.
   */
  nearCache(): NearCache | undefined {
    return undefined;
  }
  /** Resolves once connected, or after `timeoutMs` (then the store just reports `down`). */
  ready(_timeoutMs: number): Promise<void> {
    return Promise.resolve();
  }
  abstract close(): Promise<void>;
}
