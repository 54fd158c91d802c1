import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@app/core';
import {
  CacheKeys,
  CacheStore,
  HOT_ID_SPACE,
  HOT_SENTINEL,
  HOT_WINDOW_ADD_LUA,
  minuteBucket,
  RedisScript,
} from '@app/cache';
import { FeedRepository } from './feed.repository';
import { PopularityPage, PopularityQuery, toFeedItem, VideoRow } from './feed.types';

/** Minutes in the hot window (SPEC §6). */
export const HOT_WINDOW_MINUTES = 60;
/** A snapshot lives this long after its last read (SPEC §5). */
export const HOT_SNAPSHOT_TTL_MS = 120_000;
/** The running window lives as long as a bucket after its last write or roll (SPEC §5). */
export const HOT_WINDOW_TTL_SECONDS = 2 * 60 * 60;
/** Encoded score = window score × 2^32 + video id, so equal scores order by id, highest first. */
const ID_SPACE = HOT_ID_SPACE;
/** Last member of every snapshot (score 0, below every encoded entry): marks "built", even when empty. */
const SENTINEL = HOT_SENTINEL;
/**
 * Minutes of buckets the current-minute script is given, the newest first: the 60 of the window
 * and the 50 before it, which it subtracts from the running window when rolling it forward. A
 * window last rolled longer ago is rebuilt from the 60 (buckets live 120 minutes after their last
 * write, so every one given still exists).
 */
export const HOT_ROLL_MINUTES = 110;

/**
 * Lua `fill(target, buckets, signed, max)`: (re)fills `target` with the union of the bucket keys,
 * encoded, the sentinel last, the highest `max` kept (0: all). Unsigned (a snapshot): sums of at least 1 only. Signed (the running
 * window): every sum but 0, so subtracting a bucket later lands on the right sum.
 */
const FILL_LUA = `
local function fill(target, buckets, signed, max)
  -- The old value (tens of thousands of entries) freed off the main thread, not by the overwrite.
  redis.call('UNLINK', target)
  redis.call('ZUNIONSTORE', target, #buckets, unpack(buckets))
  local all = redis.call('ZRANGE', target, 0, -1, 'WITHSCORES')
  redis.call('UNLINK', target)
  local args = {}
  for i = 1, #all, 2 do
    local score = tonumber(all[i + 1])
    local id = tonumber(all[i])
    if score and string.match(all[i], '^[1-9]%d*$') and id < ${ID_SPACE} then
      if not signed then score = math.floor(score) end
      if (signed and score ~= 0) or score >= 1 then
        args[#args + 1] = string.format('%.0f', score * ${ID_SPACE} + id)
        args[#args + 1] = all[i]
        if #args >= 1000 then
          redis.call('ZADD', target, unpack(args))
          args = {}
        end
      end
    end
  end
  args[#args + 1] = '0'
  args[#args + 1] = '${SENTINEL}'
  redis.call('ZADD', target, unpack(args))
  -- The highest max (0: all) and the sentinel (rank 0) kept.
  if max > 0 then redis.call('ZREMRANGEBYRANK', target, 1, -(max + 1)) end
end
`;

/**
 * Builds the snapshot once (atomically: the script is the lock, Redis runs it alone) and returns a
 * slice of it, extending its life. KEYS[1] = snapshot, KEYS[2..] = the minute buckets (one slot,
 * hash tag `{video}`). ARGV: start, stop, ttl ms, most videos kept (0: all). Returns [entries incl.
 * sentinel, members in order].
 */
const SNAPSHOT_SLICE = `${FILL_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then
  local buckets = {}
  for i = 2, #KEYS do buckets[#buckets + 1] = KEYS[i] end
  fill(KEYS[1], buckets, false, tonumber(ARGV[4]))
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {redis.call('ZCARD', KEYS[1]), redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2])}
`;

/**
 * The current minute's first page: the snapshot is (re)built when it is missing, or when a bucket
 * moved since it was built (the buckets' version differs from the one it was built at) and it is
 * at least ARGV[5] ms old, so activity in the minute being read shows within that.
 *
 * A build rolls the running window to the minute (subtracting the buckets that left it since its
 * last roll; rebuilding it from the 60 buckets when it is missing, older than the buckets given, or
 * did not see the last version bump: a bucket moved without it) and copies its highest sums of at
 * least 1 (`HOT_LIST_MAX_LENGTH`; all at 0): a copy from one set instead of a union of 60 (41,000
 * videos: 135-187 ms of Redis before, 15-25 ms for a copy of all, on this machine). A window already rolled past the minute (a caller whose clock is
 * behind another's) is left alone: the snapshot then unions the buckets.
 *
 * KEYS[1] = snapshot, KEYS[2] = its built mark (`<version>:<ms>`), KEYS[3] = the buckets' version,
 * KEYS[4] = the window, KEYS[5] = its state (`<low minute>:<version seen>`), KEYS[6..] = the
 * buckets of the minute and of the {@link HOT_ROLL_MINUTES} - 1 before it, newest first. ARGV:
 * start, stop, ttl ms, now ms, minimum age ms, the minute (unix s), the window's ttl s, most videos
 * a snapshot keeps (`HOT_LIST_MAX_LENGTH`, 0: all; the highest, copied from the window by
 * ZRANGESTORE).
 */
const SNAPSHOT_FRESH = `${HOT_WINDOW_ADD_LUA}${FILL_LUA}
local version = redis.call('GET', KEYS[3]) or '0'
local built = redis.call('GET', KEYS[2])
local stale = true
if built and redis.call('EXISTS', KEYS[1]) == 1 then
  local v, t = string.match(built, '^(%d+):(%d+)$')
  stale = (not v) or (v ~= version and tonumber(ARGV[4]) - tonumber(t) >= tonumber(ARGV[5]))
end
if stale then
  local ok, err = pcall(function()
    local minute = tonumber(ARGV[6])
    local first = minute - ${(HOT_WINDOW_MINUTES - 1) * 60}
    local buckets = {}
    for i = 6, 6 + ${HOT_WINDOW_MINUTES - 1} do buckets[#buckets + 1] = KEYS[i] end
    local low, seen = string.match(redis.call('GET', KEYS[5]) or '', '^(%d+):(%d+)$')
    low = tonumber(low)
    if low and (low % 60 ~= 0 or seen ~= version or redis.call('EXISTS', KEYS[4]) == 0) then low = nil end
    if low and low > first then
      fill(KEYS[1], buckets, false, tonumber(ARGV[8]))
    else
      if (not low) or low < minute - (#KEYS - 6) * 60 then
        fill(KEYS[4], buckets, true, 0)
      else
        for m = low, first - 60, 60 do
          local gone = redis.call('ZRANGE', KEYS[6 + (minute - m) / 60], 0, -1, 'WITHSCORES')
          for j = 1, #gone, 2 do hotWindowAdd(KEYS[4], -tonumber(gone[j + 1]), gone[j]) end
        end
      end
      redis.call('SET', KEYS[5], first .. ':' .. version, 'EX', ARGV[7])
      redis.call('EXPIRE', KEYS[4], ARGV[7])
      redis.call('UNLINK', KEYS[1])
      local max = tonumber(ARGV[8])
      if max > 0 then
        -- The highest max sums of at least 1 (ZRANGESTORE is Redis 6.2+; else read and added).
        if not pcall(redis.call, 'ZRANGESTORE', KEYS[1], KEYS[4], '+inf', '${ID_SPACE}', 'BYSCORE', 'REV', 'LIMIT', 0, max) then
          local top = redis.call('ZREVRANGEBYSCORE', KEYS[4], '+inf', '${ID_SPACE}', 'WITHSCORES', 'LIMIT', 0, max)
          local args = {}
          for i = 1, #top, 2 do
            args[#args + 1] = top[i + 1]
            args[#args + 1] = top[i]
            if #args >= 1000 then
              redis.call('ZADD', KEYS[1], unpack(args))
              args = {}
            end
          end
          if #args > 0 then redis.call('ZADD', KEYS[1], unpack(args)) end
        end
        redis.call('ZADD', KEYS[1], 0, '${SENTINEL}')
      else
        -- COPY is Redis 6.2+; a union of the one set does the same job, three times slower.
        if not pcall(redis.call, 'COPY', KEYS[4], KEYS[1]) then
          redis.call('ZUNIONSTORE', KEYS[1], 1, KEYS[4])
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(0')
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '(0', '(${ID_SPACE}')
      end
    end
  end)
  if not ok then
    -- A command failed part way (Redis keeps what ran before it): the window may be half rolled.
    redis.call('UNLINK', KEYS[4], KEYS[5], KEYS[1])
    return redis.error_reply(type(err) == 'table' and err.err or tostring(err))
  end
  redis.call('SET', KEYS[2], version .. ':' .. ARGV[4], 'PX', ARGV[3])
else
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {redis.call('ZCARD', KEYS[1]), redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2])}
`;

/** A current snapshot is rebuilt for a first page at most this often (when its buckets moved). */
export const HOT_REFRESH_MS = 1000;

/** The common case, one key: extend the snapshot's life and slice it; nil when it does not exist. */
const SNAPSHOT_READ = `
if redis.call('PEXPIRE', KEYS[1], ARGV[3]) == 0 then return false end
return {redis.call('ZCARD', KEYS[1]), redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2])}
`;

/** The three scripts by EVALSHA ({@link RedisScript}: the body is sent once per server). */
const SCRIPTS = {
  read: new RedisScript('fsvHotSnapshotRead', 1, SNAPSHOT_READ),
  slice: new RedisScript('fsvHotSnapshotSlice', 'any', SNAPSHOT_SLICE),
  fresh: new RedisScript('fsvHotSnapshotFresh', 'any', SNAPSHOT_FRESH),
};

/**
 * The hot list (SPEC §6): a snapshot per `as_of` minute, the union of the 60 minute buckets
 * ending there; pages are slices by `offset`. A past minute's snapshot is frozen; the current
 * minute's is rebuilt for a first page when a bucket moved (at most every {@link HOT_REFRESH_MS}). An empty window, or Redis down, reads the database
 * by (popularity desc, id desc) with the same `as_of` + `offset` paging. Offset paging over the
 * database is exact on a frozen dataset only: a popularity change between two pages can shift rows
 * across the offset (a past minute's snapshot, by contrast, never moves). A walk that starts on the snapshot and
 * continues on the database (Redis lost mid-walk) switches order and may repeat items.
 */
@Injectable()
export class HotListService {
  private readonly max: number;

  constructor(
    private readonly store: CacheStore,
    private readonly repo: FeedRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.max = config.hotListMaxLength;
  }

  /** unix s of the minute the request reads: `as_of` truncated, or now when absent/future/too old. */
  static resolveAsOf(asOf: number, nowMs = Date.now()): number {
    const current = Math.floor(nowMs / 60_000) * 60;
    if (!asOf) return current;
    const minute = Math.floor(asOf / 60) * 60;
    if (minute > current || minute <= current - HOT_WINDOW_MINUTES * 60) return current;
    return minute;
  }

  static bucketKeys(asOf: number, minutes = HOT_WINDOW_MINUTES): string[] {
    const keys: string[] = [];
    for (let i = 0; i < minutes; i++) keys.push(CacheKeys.hotBucket(minuteBucket((asOf - i * 60) * 1000)));
    return keys;
  }

  /** `now` is the clock's (a test moves it). */
  async list(q: PopularityQuery, now = Date.now()): Promise<PopularityPage> {
    const asOf = HotListService.resolveAsOf(q.asOf, now);
    const fromSnapshot = await this.fromSnapshot(
      asOf,
      q,
      q.offset === 0 && asOf === HotListService.resolveAsOf(0, now),
      now,
    );
    if (fromSnapshot) return fromSnapshot;
    const rows = await this.repo.popularity(q.limit + 1, q.offset);
    const items = rows.slice(0, q.limit).map(toFeedItem);
    return {
      video_list: items,
      as_of: asOf,
      next_offset: q.offset + items.length,
      has_more: rows.length > q.limit,
    };
  }

  /** A page of the snapshot, or undefined when Redis is unavailable or the window is empty. */
  private async fromSnapshot(
    asOf: number,
    q: PopularityQuery,
    fresh: boolean,
    now: number,
  ): Promise<PopularityPage | undefined> {
    const key = CacheKeys.hotSnapshot(asOf);
    const items = [];
    let offset = q.offset;
    let first = true;
    let more = true;
    // Read slices until `limit` live videos plus one more entry (for has_more) are found; entries
    // whose video is gone are skipped but consumed (they count in next_offset).
    for (let round = 0; round < 10; round++) {
      const want = q.limit - items.length + 1;
      const chunk = Math.max(want, 16);
      const args = [offset, offset + chunk - 1, HOT_SNAPSHOT_TTL_MS];
      const reply = await this.store.withRedis(async (redis, prefix) => {
        if (first && fresh) {
          const keys = [
            key,
            CacheKeys.hotSnapshotBuilt(asOf),
            CacheKeys.hotVersion,
            CacheKeys.hotWindow,
            CacheKeys.hotWindowState,
          ];
          const all = [...keys, ...HotListService.bucketKeys(asOf, HOT_ROLL_MINUTES)].map((k) => prefix + k);
          const freshArgs = [...args, now, HOT_REFRESH_MS, asOf, HOT_WINDOW_TTL_SECONDS, this.max];
          return (await SCRIPTS.fresh.run(redis, all, freshArgs)) as [number, string[]];
        }
        const read = await SCRIPTS.read.run(redis, [prefix + key], args);
        if (read !== null) return read as [number, string[]];
        const all = [key, ...HotListService.bucketKeys(asOf)].map((k) => prefix + k);
        return (await SCRIPTS.slice.run(redis, all, [...args, this.max])) as [number, string[]];
      });
      if (reply === undefined) {
        if (first) return undefined;
        break; // Redis lost mid-page: serve what was read (has_more stays true); the next page falls back.
      }
      const [size, members] = reply;
      if (size <= 1) return undefined; // empty window: only the sentinel
      const ids = members.filter((m) => m !== SENTINEL).map(Number);
      first = false;
      const rows = new Map((await this.repo.byIds(ids)).map((r: VideoRow) => [Number(r.id), r]));
      let i = 0;
      for (; i < ids.length; i++) {
        const row = rows.get(ids[i]);
        if (!row) continue;
        if (items.length === q.limit) {
          return { video_list: items, as_of: asOf, next_offset: offset + i, has_more: true };
        }
        items.push(toFeedItem(row));
      }
      offset += ids.length;
      if (ids.length < chunk) {
        more = false; // reached the end of the snapshot
        break;
      }
    }
    return { video_list: items, as_of: asOf, next_offset: offset, has_more: more };
  }
}
