import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CacheKeys, CacheStore, RedisScript } from '@app/cache';
import { Database } from '@app/core';

/** How long a loaded set lives without being reloaded (a missed invalidation heals within it). */
export const LIKED_SET_TTL_MS = 10 * 60 * 1000;
/** Accounts with more likes than this are not cached: their `is_liked` is the SQL query. */
export const LIKED_SET_MAX = 5000;
/** The version outlives every set it guards. */
const VERSION_TTL_MS = 2 * LIKED_SET_TTL_MS;
/** Members that are not video ids: "the set is loaded" and "too many likes to keep". */
const LOADED = '0';
const TOO_MANY = '-1';
/**
 * What this process holds of an account's liked set ({@link NearCache}): whether each video asked
 * about so far is in it, or that the account has too many likes to keep.
 */
type HeldLiked = { tooMany: true } | { tooMany: false; known: Map<number, boolean> };
/** Videos remembered per held set; past it the set starts again from the next page's. */
const HELD_IDS_MAX = 4096;

/** How often invalidations Redis refused are tried again. */
const REPAIR_EVERY_MS = 250;

/**
 * A write's invalidation: a new version (a value never used before, so an expired version can
 * never come back equal), the set dropped. Any load that read the database before this write then
 * fails its compare-and-set (below) and stores nothing.
 */
const INVALIDATE = new RedisScript(
  'fsvLikedSetsInvalidate',
  'any',
  `
for i = 1, #KEYS, 2 do
  redis.call('SET', KEYS[i + 1], ARGV[2], 'PX', ARGV[1])
  redis.call('DEL', KEYS[i])
end
return 1`,
);

/**
 * A load's store, only when no write has bumped the version since the load read it (ARGV[1]):
 * KEYS[1] the set, KEYS[2] the version; ARGV[2] the TTL; ARGV[3..] the members.
 */
const STORE_IF_UNCHANGED = new RedisScript(
  'fsvLikedSetsStoreIfUnchanged',
  2,
  `
local v = redis.call('GET', KEYS[2]) or '0'
if v ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 1000 do
  redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`,
);

/**
 * `is_liked` for pages without a database query (issue 14): per account, a Redis set of the ids
 * of the videos it likes (`liked:{uid=<id>}:set`), loaded from the primary on first use and
 * dropped by every like or unlike of that account once it has committed (before the write
 * answers), so the next page reflects the write. A version key makes a load that raced a write
 * store nothing; a write whose invalidation Redis refused is retried from this process until Redis
 * takes it. Accounts with more than {@link LIKED_SET_MAX} likes keep a marker instead and are
 * answered by SQL, as is everyone while Redis is down or not configured.
 */
@Injectable()
export class LikedSets implements OnModuleDestroy {
  private readonly logger = new Logger(LikedSets.name);
  private readonly loading = new Map<number, Promise<Set<number> | null>>();
  private readonly dirty = new Set<number>();
  private repairTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: CacheStore,
    private readonly db: Database,
  ) {}

  /** Only with Redis: the in-process store is per process and the SQL query is as cheap. */
  get enabled(): boolean {
    return this.store.kind === 'redis';
  }

  /**
   * Which of `videoIds` the account likes, or `undefined` when the sets cannot say (Redis down,
   * not configured, an account with too many likes): then ask the database.
   */
  async likedAmong(accountId: number, videoIds: readonly number[]): Promise<Set<number> | undefined> {
    if (!this.enabled || this.dirty.has(accountId)) return undefined;
    const key = CacheKeys.likedSet(accountId);
    // What this process holds of the set (kept current by Redis), when it covers every id: no round trip.
    const near = this.store.nearCache();
    const held = near?.get<HeldLiked>(key);
    if (held?.tooMany) return undefined;
    if (held !== undefined) {
      const liked = heldAmong(held.known, videoIds);
      if (liked !== undefined) return liked;
    }
    const ticket = near?.ticket(key);
    const flags = await this.store.withRedis(
      (redis, prefix) => redis.smismember(prefix + key, LOADED, TOO_MANY, ...videoIds),
      true,
    );
    if (flags === undefined) return undefined;
    if (flags[0] === 1) {
      if (ticket)
        near?.update<HeldLiked>(ticket, (h) => {
          const known =
            h?.tooMany === false && h.known.size < HELD_IDS_MAX ? h.known : new Map<number, boolean>();
          videoIds.forEach((id, i) => known.set(id, flags[i + 2] === 1));
          return { tooMany: false, known };
        });
      return new Set(videoIds.filter((_, i) => flags[i + 2] === 1));
    }
    if (flags[1] === 1) {
      if (ticket) near?.fill(ticket, { tooMany: true });
      return undefined;
    }
    const all = await this.load(accountId);
    return all ? new Set(videoIds.filter((id) => all.has(id))) : undefined;
  }

  /**
   * After likes or unlikes of these accounts committed (or may have): their sets are stale. One
   * script for the whole batch on a single Redis; one per account on a cluster (other slots).
   */
  async invalidate(accountIds: Iterable<number>): Promise<void> {
    if (!this.enabled) return;
    const ids = [...new Set(accountIds)];
    for (const id of ids) this.loading.delete(id); // a later read must not join a load that may predate the write
    const cluster = await this.store.withRedis((redis) => Promise.resolve(redis.isCluster), false, true, []);
    const groups = cluster === false ? [ids] : ids.map((id) => [id]);
    await Promise.all(
      groups.map(async (group) => {
        if (!(await this.runInvalidate(group))) for (const id of group) this.markDirty(id);
      }),
    );
  }

  private runInvalidate(accountIds: number[]): Promise<boolean> {
    const keys = accountIds.flatMap((id) => [CacheKeys.likedSet(id), CacheKeys.likedSetVersion(id)]);
    return this.store
      .withRedis(
        (redis, prefix) =>
          INVALIDATE.run(
            redis,
            keys.map((k) => prefix + k),
            [String(VERSION_TTL_MS), randomUUID()],
          ),
        false,
        false,
        keys,
      )
      .then((r) => r !== undefined);
  }

  /** One load per account per process at a time; null when it has too many likes. */
  private load(accountId: number): Promise<Set<number> | null> {
    const running = this.loading.get(accountId);
    if (running) return running;
    const p = this.loadOnce(accountId).finally(() => {
      if (this.loading.get(accountId) === p) this.loading.delete(accountId);
    });
    this.loading.set(accountId, p);
    return p;
  }

  private async loadOnce(accountId: number): Promise<Set<number> | null> {
    const setKey = CacheKeys.likedSet(accountId);
    const verKey = CacheKeys.likedSetVersion(accountId);
    const version = await this.store.get(verKey);
    // The primary (`db.query`), never a replica: the version check covers only writes after this read.
    const rows = await this.db.query<{ video_id: number | string }>(
      'SELECT video_id FROM likes WHERE account_id = ? LIMIT ?',
      [accountId, LIKED_SET_MAX + 1],
    );
    const tooMany = rows.length > LIKED_SET_MAX;
    const ids = tooMany ? [] : rows.map((r) => Number(r.video_id));
    const members = tooMany ? [TOO_MANY] : [LOADED, ...ids.map(String)];
    await this.store.withRedis(
      (redis, prefix) =>
        STORE_IF_UNCHANGED.run(
          redis,
          [prefix + setKey, prefix + verKey],
          [version ?? '0', String(LIKED_SET_TTL_MS), ...members],
        ),
      false,
      false,
      [setKey, verKey],
    );
    return tooMany ? null : new Set(ids);
  }

  private markDirty(accountId: number): void {
    this.dirty.add(accountId);
    this.repairTimer ??= setInterval(() => void this.repair(), REPAIR_EVERY_MS);
    this.repairTimer.unref();
  }

  /** Retries refused invalidations; until one succeeds, that account's reads ask the database. */
  private async repair(): Promise<void> {
    for (const accountId of [...this.dirty]) {
      if (!(await this.runInvalidate([accountId]))) return;
      this.dirty.delete(accountId);
    }
    if (this.dirty.size === 0 && this.repairTimer) {
      clearInterval(this.repairTimer);
      this.repairTimer = undefined;
      this.logger.log('liked-set invalidations caught up');
    }
  }

  onModuleDestroy(): void {
    if (this.repairTimer) clearInterval(this.repairTimer);
  }
}

/** The liked ones among `ids` when `known` says for every one; else undefined. */
function heldAmong(known: ReadonlyMap<number, boolean>, ids: readonly number[]): Set<number> | undefined {
  const liked = new Set<number>();
  for (const id of ids) {
    const k = known.get(id);
    if (k === undefined) return undefined;
    if (k) liked.add(id);
  }
  return liked;
}
