import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import Redis, { Cluster } from 'ioredis';
import { boundedKey } from './bounded-key';
import { type AlsoSet, CacheStore, DependencyState, type RedisClient } from './cache-store';
import { CircuitBreaker } from './circuit-breaker';
import { NearCache } from './near-cache';
import { batchClusterWritesPerTurn, batchWritesPerTurn } from './batched-writes';
// Its scripts exist before any client does, so defineAll defines them (see RedisScript).
import './id-index';
import { RedisScript } from './redis-script';

const DEL_IF_EQUALS = new RedisScript(
  'fsvDelIfEquals',
  1,
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`,
);
/**
 * KEYS: a rebuild's lock, the key it rebuilds. ARGV: token, lock TTL. `{1, value or nil}` when the
 * lock was taken, `{0}` when not. One server only: the two keys are in different cluster slots.
 */
const LOCK_AND_PEEK = new RedisScript(
  'fsvLockAndPeek',
  2,
  `if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return {1, redis.call('GET', KEYS[2])} end
return {0}`,
);
/**
 * KEYS: the key rebuilt, its lock. ARGV: value, TTL, the lock's token. 1 when filled, 0 when the
 * SET was refused (e.g. out of memory); the lock is released either way. One server only, as above.
 */
const SET_AND_UNLOCK = new RedisScript(
  'fsvSetAndUnlock',
  2,
  `local set = redis.pcall('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
if type(set) == 'table' and set.err then return 0 end
return 1`,
);
/** One key (any cluster slot): SET PX while it holds ARGV[1]. */
const REPLACE_IF_EQUALS = new RedisScript(
  'fsvReplaceIfEquals',
  1,
  `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
return 0`,
);
/** KEYS: the entry, its change stamp (one slot). ARGV: new stamp, its TTL, the mark ('' = delete), its TTL. */
const MARK_CHANGED_LUA = `redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
if ARGV[3] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4]) end
`;
const MARK_CHANGED = new RedisScript('fsvMarkChanged', 2, `${MARK_CHANGED_LUA}return 1`);
/** {@link MARK_CHANGED}, and KEYS[3] set to ARGV[5] for ARGV[6] ms (an {@link AlsoSet}; one server only). */
const MARK_CHANGED_ALSO = new RedisScript(
  'fsvMarkChangedAlso',
  3,
  `${MARK_CHANGED_LUA}redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6])
return 1`,
);
/** KEYS: the entry, its change stamp. ARGV: the stamp read before the load ('' = none), value, TTL. */
const FILL_IF_UNCHANGED = new RedisScript(
  'fsvFillIfUnchanged',
  2,
  `if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
if redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3], 'NX') then return 1 end
return 0`,
);
/**
 * {@link FILL_IF_UNCHANGED} of several entries in one call: KEYS entry, stamp, entry, stamp, …;
 * ARGV[1] the TTL, then per entry the stamp read before the load ('' = none) and the value. One
 * server only (the entries are in many slots).
 */
const FILL_MANY_IF_UNCHANGED = new RedisScript(
  'fsvFillManyIfUnchanged',
  'any',
  `for i = 1, #KEYS, 2 do
  if (redis.call('GET', KEYS[i + 1]) or '') == ARGV[i + 1] then
    redis.call('SET', KEYS[i], ARGV[i + 2], 'PX', ARGV[1], 'NX')
  end
end
return 1`,
);
/**
 * KEYS: the entry, its change stamp (one slot), its rebuild's lock. ARGV: the stamp read before
 * the load ('' = none), value, TTL, the lock's token. {@link FILL_IF_UNCHANGED}, then the lock
 * released whatever the fill did; 1 when filled. One server only: the lock is in another slot.
 */
const FILL_IF_UNCHANGED_AND_UNLOCK = new RedisScript(
  'fsvFillIfUnchangedAndUnlock',
  3,
  `local filled = 0
if (redis.call('GET', KEYS[2]) or '') == ARGV[1] then
  local set = redis.pcall('SET', KEYS[1], ARGV[2], 'PX', ARGV[3], 'NX')
  if type(set) == 'table' and set.ok then filled = 1 end
end
if redis.call('GET', KEYS[3]) == ARGV[4] then redis.call('DEL', KEYS[3]) end
return filled`,
);
/** A rate-limit hit: the count in the window and the window's time left. */
const HIT = new RedisScript(
  'fsvRateHit',
  1,
  `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local t = redis.call('PTTL', KEYS[1])
if t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); t = tonumber(ARGV[1]) end
return {n, t}`,
);
/** Takes one hit back without creating the key or touching its window. */
const UNHIT = new RedisScript(
  'fsvRateUnhit',
  1,
  `if redis.call('GET', KEYS[1]) and tonumber(redis.call('GET', KEYS[1])) > 0 then return redis.call('DECR', KEYS[1]) end
return 0`,
);

/**
 * After Redis comes back (the breaker closes), reads of cached values answer "miss" this long
 * while writes go through: an invalidation another process could not make during the outage (a
 * rename's detail entries, a delete's index entries, a logout's token) is retried by its repair
 * loop (every `REPAIR_EVERY_MS`, 250 ms) once that process's own probe gets through (its breaker's 1 s
 * open window at most), so this covers the time until such repairs have landed.
 */
export const SETTLE_AFTER_RECOVERY_MS = 2000;

/** A seed node of a Redis Cluster (`REDIS_CLUSTER_NODES`). */
export interface RedisNode {
  host: string;
  port: number;
}

export interface RedisStoreOptions {
  /** `redis://…` of one server; ignored when `clusterNodes` is given. */
  url?: string;
  /** Seed nodes of a Redis Cluster: selects an ioredis `Cluster` client. */
  clusterNodes?: RedisNode[];
  /** Credentials and TLS of every cluster node. */
  clusterAuth?: { username?: string; password?: string; tls: boolean };
  keyPrefix: string;
  timeoutMs: number;
  onStateChange?: (state: DependencyState) => void;
  /**
   * Hold the values of a few hot keys in this process, kept current by Redis's client-side caching
   * ({@link NearCache}); one server only (`REDIS_NEAR_CACHE`, default on).
   */
  nearCache?: boolean;
}

/**
 * Redis (one server or a cluster) behind a short per-command timeout and a circuit breaker. The
 * offline queue is off: while disconnected a command fails at once instead of waiting for a
 * reconnect. On a cluster every key is routed by its slot; commands and scripts that take several
 * keys get keys with one `{hash tag}` (see cache-keys.ts), and `del`/`mget` go key by key.
 */
export class RedisCacheStore extends CacheStore {
  readonly kind = 'redis' as const;
  private readonly logger = new Logger('RedisCache');
  private readonly client: RedisClient;
  private readonly breaker: CircuitBreaker;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  /** Until when reads answer "miss" after a recovery ({@link SETTLE_AFTER_RECOVERY_MS}); 0 = not settling. */
  private settleUntil = 0;
  private readonly near: NearCache | undefined;

  constructor(opts: RedisStoreOptions) {
    super();
    this.prefix = opts.keyPrefix;
    this.timeoutMs = opts.timeoutMs;
    this.breaker = new CircuitBreaker(3, 1000, (open) => {
      this.logger.warn(
        open
          ? 'Redis unavailable: circuit open, using fallbacks'
          : `Redis back: circuit closed (cached values read again in ${SETTLE_AFTER_RECOVERY_MS} ms)`,
      );
      if (!open) this.settleUntil = Date.now() + SETTLE_AFTER_RECOVERY_MS;
      // What Redis told this process may have missed changes meanwhile: read again once trusted.
      else this.near?.clear();
      opts.onStateChange?.(open ? 'down' : 'up');
    });
    const connectTimeout = Math.max(1000, opts.timeoutMs * 4);
    const retry = (times: number): number => Math.min(100 * times, 1000);
    const nodeOptions = {
      maxRetriesPerRequest: 0,
      commandTimeout: opts.timeoutMs,
      connectTimeout,
      reconnectOnError: () => false,
    };
    if (opts.clusterNodes && opts.clusterNodes.length > 0) {
      this.client = new Cluster(opts.clusterNodes, {
        lazyConnect: false,
        enableOfflineQueue: false,
        clusterRetryStrategy: retry,
        slotsRefreshTimeout: connectTimeout,
        // A slot whose master is gone answers CLUSTERDOWN or a refused connection: retried a few
        // times within the command's timeout, then the breaker takes over.
        retryDelayOnClusterDown: 50,
        retryDelayOnFailover: 50,
        maxRedirections: 4,
        redisOptions: {
          ...nodeOptions,
          username: opts.clusterAuth?.username,
          password: opts.clusterAuth?.password,
          ...(opts.clusterAuth?.tls ? { tls: {} } : {}),
        },
      });
      // Each node's commands of one turn in one write, as below.
      batchClusterWritesPerTurn(this.client);
    } else {
      if (!opts.url) throw new Error('RedisCacheStore needs a url or cluster nodes');
      this.client = new Redis(opts.url, {
        ...nodeOptions,
        lazyConnect: false,
        enableOfflineQueue: false,
        retryStrategy: retry,
      });
      // Commands issued in the same turn of the event loop (a consumer batch's invalidations and
      // hot-bucket scripts, concurrent requests' lookups) go out in one write: one syscall, not
      // one each. Not by auto-pipelining, whose batches fill the old generation (batched-writes.ts).
      batchWritesPerTurn(this.client);
    }
    this.client.on('error', () => undefined); // state is tracked by the breaker; avoid log floods
    // Reconnected: the next call probes at once instead of after the breaker's open window (a call
    // made while the client was still reconnecting re-opened it), so refused writes are repaired,
    // and cached values read again, as soon as Redis answers.
    this.client.on('ready', () => this.breaker.probeNow());
    RedisScript.defineAll(this.client);
    this.near =
      opts.nearCache && !(this.client instanceof Cluster) && opts.url
        ? new NearCache({ url: opts.url, prefix: opts.keyPrefix, timeoutMs: opts.timeoutMs })
        : undefined;
  }

  /**
   * The values held in this process ({@link NearCache}) while Redis answers and is trusted (the
   * breaker closed, not settling after a recovery); undefined otherwise, or when not configured.
   */
  override nearCache(): NearCache | undefined {
    const near = this.near;
    if (near === undefined || this.breaker.isOpen || this.client.status !== 'ready' || this.settling())
      return undefined;
    return near.usable ? near : undefined;
  }

  /** A write of these keys (without the prefix) is about to be sent: their values held here are dropped. */
  private dropHeld(...keys: string[]): void {
    if (this.near === undefined) return;
    let held = false;
    for (const k of keys) if (NearCache.holds(k)) held = true;
    if (held) this.near.evict(keys);
  }

  /** For code that needs the raw client type (e.g. hash-tag aware helpers). */
  get isCluster(): boolean {
    return this.client instanceof Cluster;
  }

  state(): DependencyState {
    return this.breaker.isOpen || this.client.status !== 'ready' ? 'down' : 'up';
  }

  /** A PING behind the timeout and the breaker: `down` when it fails (a silent Redis included). */
  override async probe(): Promise<DependencyState> {
    const answered = await this.call(async () => (await this.client.ping()) === 'PONG', false);
    return answered ? this.state() : 'down';
  }

  private k(key: string): string {
    return this.prefix + key;
  }

  /**
   * `op` behind the breaker and a timeout: `fallback` when the circuit is open, the client is not
   * connected, or `op` fails or outlasts the timeout. `timed: false` leaves the timeout to each
   * command's own (ioredis's `commandTimeout`, the same length) and saves a timer and a race per
   * call: for an `op` of one command (or a script's EVALSHA, then its EVAL after a NOSCRIPT) on one
   * server. A cluster's command may first wait for its slots, outside that timeout, so there every
   * call is timed.
   */
  private call<T>(op: () => Promise<T>, fallback: T, timed = true): Promise<T> {
    if (!this.breaker.allow()) return Promise.resolve(fallback);
    if (this.client.status !== 'ready') {
      this.breaker.failure();
      return Promise.resolve(fallback);
    }
    // The half-open breaker's probe: its success closes the circuit, so it must have crossed to
    // Redis and back, which an operation that sends no command (nothing to read) does not.
    const probe = this.breaker.isOpen;
    let run: Promise<T>;
    try {
      run = probe ? Promise.all([this.client.ping(), op()]).then(([, r]) => r) : op();
    } catch {
      this.breaker.failure();
      return Promise.resolve(fallback);
    }
    if (timed || this.isCluster) {
      let timer: NodeJS.Timeout | undefined;
      run = Promise.race([
        run,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('redis timeout')), this.timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    }
    return run.then(
      (result) => {
        this.breaker.success();
        return result;
      },
      () => {
        this.breaker.failure();
        return fallback;
      },
    );
  }

  /** Whether reads answer "miss" now, a recovery's values not trusted yet ({@link SETTLE_AFTER_RECOVERY_MS}). */
  private settling(): boolean {
    if (this.settleUntil === 0) return false;
    if (Date.now() < this.settleUntil) return true;
    this.settleUntil = 0;
    return false;
  }

  /**
   * A read of cached values: `fallback` (a miss) while the store settles after a recovery, and for
   * the call that probes Redis after an outage (it tells that Redis is back, and starts the
   * settling, but its value is not trusted).
   */
  private read<T>(op: () => Promise<T>, fallback: T): Promise<T> {
    if (this.settling()) return Promise.resolve(fallback);
    if (!this.breaker.isOpen) return this.call(op, fallback, false);
    return this.call(op, fallback, false).then(() => fallback);
  }

  get(key: string): Promise<string | null> {
    return this.read(() => this.client.get(this.k(key)), null);
  }

  mget(keys: string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return Promise.resolve([]);
    const prefixed = keys.map((k) => this.k(k));
    return this.read(
      // MGET across slots is refused by a cluster; one GET per key (written together per node).
      () =>
        this.isCluster ? Promise.all(prefixed.map((k) => this.client.get(k))) : this.client.mget(prefixed),
      keys.map(() => null),
    );
  }

  set(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.dropHeld(key);
    return this.call(async () => (await this.client.set(this.k(key), value, 'PX', ttlMs)) === 'OK', false);
  }

  setNx(key: string, value: string, ttlMs: number): Promise<boolean | null> {
    // NX (as the fills below): it never replaces a value, so nothing held can go stale by it.
    return this.call<boolean | null>(
      async () => (await this.client.set(this.k(key), value, 'PX', ttlMs, 'NX')) === 'OK',
      null,
    );
  }

  del(...keys: string[]): Promise<boolean> {
    if (keys.length === 0) return Promise.resolve(true);
    this.dropHeld(...keys);
    return this.call(async () => {
      // One DEL per key: keys may live in different cluster slots.
      await Promise.all(keys.map((k) => this.client.del(this.k(k))));
      return true;
    }, false);
  }

  delIfEquals(key: string, value: string): Promise<boolean> {
    this.dropHeld(key);
    return this.call(async () => {
      await DEL_IF_EQUALS.run(this.client, [this.k(key)], [value]);
      return true;
    }, false);
  }

  override async lockAndPeek(
    lockKey: string,
    token: string,
    ttlMs: number,
    key: string,
  ): Promise<{ got: boolean | null; value: string | null }> {
    // Settling or probing, the peek is a read of `get` (a miss).
    if (this.isCluster || this.settling() || this.breaker.isOpen)
      return super.lockAndPeek(lockKey, token, ttlMs, key);
    const reply = await this.call<unknown>(
      () => LOCK_AND_PEEK.run(this.client, [this.k(lockKey), this.k(key)], [token, ttlMs]),
      undefined,
    );
    if (!Array.isArray(reply)) return { got: null, value: null };
    const [got, value] = reply as [number, string | null | undefined];
    return { got: got === 1, value: value ?? null };
  }

  override async setAndUnlock(
    key: string,
    value: string,
    ttlMs: number,
    lockKey: string,
    token: string,
  ): Promise<boolean> {
    if (this.isCluster) return super.setAndUnlock(key, value, ttlMs, lockKey, token);
    this.dropHeld(key);
    return this.call(
      async () =>
        (await SET_AND_UNLOCK.run(this.client, [this.k(key), this.k(lockKey)], [value, ttlMs, token])) === 1,
      false,
    );
  }

  replaceIfEquals(key: string, expected: string, value: string, ttlMs: number): Promise<boolean> {
    this.dropHeld(key);
    return this.call(
      async () => (await REPLACE_IF_EQUALS.run(this.client, [this.k(key)], [expected, value, ttlMs])) === 1,
      false,
    );
  }

  /**
   * `key`'s change stamp, in the key's own cluster slot and under the prefix:
   * `<prefix>{<prefix><key>}:chg` for a key without a hash tag (it hashes whole, and the stamp's
   * tag is the whole prefixed key; a cluster's prefix has no braces), else `<prefix><key>:chg`
   * (the key's own tag).
   */
  private stampKey(key: string): string {
    return key.includes('{') ? `${this.k(key)}:chg` : `${this.prefix}{${this.k(key)}}:chg`;
  }

  markChanged(
    key: string,
    stampTtlMs: number,
    mark?: { value: string; ttlMs: number },
    also?: AlsoSet,
  ): Promise<boolean> {
    if (also) this.dropHeld(key, also.key);
    else this.dropHeld(key);
    return this.call(async () => {
      const keys = [this.k(key), this.stampKey(key)];
      const args = [randomUUID(), stampTtlMs, mark?.value ?? '', mark?.ttlMs ?? 0];
      if (also && !this.isCluster) {
        await MARK_CHANGED_ALSO.run(
          this.client,
          [...keys, this.k(also.key)],
          [...args, also.value, also.ttlMs],
        );
        return true;
      }
      await MARK_CHANGED.run(this.client, keys, args);
      // Another slot: its own command, once the change has landed.
      if (also) await this.client.set(this.k(also.key), also.value, 'PX', also.ttlMs);
      return true;
    }, false);
  }

  changeStamps(keys: string[]): Promise<(string | null)[] | undefined> {
    if (keys.length === 0) return Promise.resolve([]);
    const stamps = keys.map((k) => this.stampKey(k));
    return this.call<(string | null)[] | undefined>(
      () => (this.isCluster ? Promise.all(stamps.map((k) => this.client.get(k))) : this.client.mget(stamps)),
      undefined,
      false,
    );
  }

  /**
   * One MGET of the keys and their stamps (a cluster: {@link CacheStore.mgetWithStamps}'s two
   * reads, one GET per key). While the store settles after a recovery, and for the call that
   * probes Redis, the values are misses (as {@link mget}'s) and only the stamps are read.
   */
  override async mgetWithStamps(
    keys: string[],
  ): Promise<{ values: (string | null)[]; stamps: (string | null)[] | undefined }> {
    if (this.isCluster) return super.mgetWithStamps(keys);
    const misses = keys.map(() => null);
    if (keys.length === 0) return { values: [], stamps: [] };
    const stampKeys = keys.map((k) => this.stampKey(k));
    const trusted = !this.settling() && !this.breaker.isOpen;
    const read = await this.call<(string | null)[] | undefined>(
      () => this.client.mget(trusted ? [...keys.map((k) => this.k(k)), ...stampKeys] : stampKeys),
      undefined,
      false,
    );
    if (read === undefined) return { values: misses, stamps: undefined };
    if (!trusted) return { values: misses, stamps: read };
    return { values: read.slice(0, keys.length), stamps: read.slice(keys.length) };
  }

  fillIfUnchanged(key: string, stamp: string | null, value: string, ttlMs: number): Promise<boolean> {
    return this.call(
      async () =>
        (await FILL_IF_UNCHANGED.run(
          this.client,
          [this.k(key), this.stampKey(key)],
          [stamp ?? '', value, ttlMs],
        )) === 1,
      false,
    );
  }

  override async fillManyIfUnchanged(
    fills: readonly { key: string; stamp: string | null; value: string }[],
    ttlMs: number,
  ): Promise<void> {
    if (this.isCluster || fills.length < 2) return super.fillManyIfUnchanged(fills, ttlMs);
    await this.call(async () => {
      await FILL_MANY_IF_UNCHANGED.run(
        this.client,
        fills.flatMap((f) => [this.k(f.key), this.stampKey(f.key)]),
        [ttlMs, ...fills.flatMap((f) => [f.stamp ?? '', f.value])],
      );
      return true;
    }, false);
  }

  override async fillIfUnchangedAndUnlock(
    key: string,
    stamp: string | null,
    value: string,
    ttlMs: number,
    lockKey: string,
    token: string,
  ): Promise<boolean> {
    if (this.isCluster) return super.fillIfUnchangedAndUnlock(key, stamp, value, ttlMs, lockKey, token);
    return this.call(async () => {
      await FILL_IF_UNCHANGED_AND_UNLOCK.run(
        this.client,
        [this.k(key), this.stampKey(key), this.k(lockKey)],
        [stamp ?? '', value, ttlMs, token],
      );
      return true;
    }, false);
  }

  hit(key: string, windowMs: number): Promise<{ count: number; ttlMs: number } | null> {
    return this.call<{ count: number; ttlMs: number } | null>(async () => {
      // Rate-limit keys carry request data: capped like the in-process store's.
      const [count, ttl] = (await HIT.run(this.client, [this.k(boundedKey(key))], [String(windowMs)])) as [
        number,
        number,
      ];
      return { count, ttlMs: ttl };
    }, null);
  }

  override unhit(key: string): Promise<boolean> {
    return this.call(async () => {
      await UNHIT.run(this.client, [this.k(boundedKey(key))], []);
      return true;
    }, false);
  }

  pexpire(key: string, ttlMs: number): Promise<boolean> {
    this.dropHeld(key);
    return this.call(async () => (await this.client.pexpire(this.k(key), ttlMs)) === 1, false);
  }

  withRedis<T>(
    op: (redis: RedisClient, prefix: string) => Promise<T>,
    read = false,
    oneCommand = read,
    writes?: readonly string[],
  ): Promise<T | undefined> {
    const run = (): Promise<T> => op(this.client, this.prefix);
    if (read) return this.read<T | undefined>(run, undefined);
    // Keys it may write unknown: the values held here wait until Redis has told what it changed.
    if (writes === undefined && this.near !== undefined) {
      const end = this.near.fence();
      return this.call<T | undefined>(run, undefined, !oneCommand).finally(end);
    }
    if (writes !== undefined) this.dropHeld(...writes);
    return this.call<T | undefined>(run, undefined, !oneCommand);
  }

  /** Waits (bounded) for the first connection so a fresh process starts with Redis `up`. */
  override async ready(timeoutMs: number): Promise<void> {
    if (this.client.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.client.once('ready', done);
    });
  }

  async close(): Promise<void> {
    await this.near?.close();
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
