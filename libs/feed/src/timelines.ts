import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CacheKeys, CacheStore, RedisScript } from '@app/cache';
import { APP_CONFIG, DependencyUnavailableError, ExpiringMap, type AppConfig } from '@app/core';
import { FeedRepository } from './feed.repository';
import { VideoRow } from './feed.types';

/** How long a timeline lives after its build (pushes do not extend it): a lost push heals within it. */
export const TIMELINE_TTL_MS = 30 * 60 * 1000;
/** A build that has not finished within this is abandoned (its marker expires; the next read rebuilds). */
const BUILD_TTL_MS = 10_000;
/** Followers pushed per Redis round (each a script call; all of a round are sent at once). */
const FANOUT_CHUNK = 500;
/** How long this process remembers a timeline's floor (a page past it is not asked of the timeline). */
const FLOOR_HINT_MS = 5000;
/** How often a version bump or a drop Redis refused is tried again. */
const REPAIR_EVERY_MS = 1000;

/** Members are zero-padded ids, so equal scores (one millisecond) order by id as strings do. */
const ID_WIDTH = 15;
export const timelineMember = (id: number): string => String(id).padStart(ID_WIDTH, '0');

/**
 * Starts a build: KEYS[1] the timeline, KEYS[2] its meta; ARGV[1] the build's token, ARGV[2] the
 * marker's TTL, ARGV[3] the token of a ready timeline found stale ('' = only when there is none).
 * From here on pushes land in the (emptied) timeline, so nothing published after the build's read
 * of the database is missed.
 */
const BEGIN = `
local state = redis.call('HGET', KEYS[2], 'state')
if state then
  if ARGV[3] == '' or state ~= 'ready' or redis.call('HGET', KEYS[2], 'token') ~= ARGV[3] then return 0 end
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[2], 'state', 'building', 'token', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1`;

/**
 * Ends a build, if it is still this build's (a follow or unfollow meanwhile dropped it):
 * ARGV[1] token, ARGV[2] TTL, ARGV[3] the length bound, ARGV[4] '1' when the rows are all there
 * are, ARGV[5] the version read before the build, ARGV[6] the big authors followed, then
 * score/member pairs. The rows join what was pushed meanwhile; the newest ARGV[3] stay. The floor
 * is the oldest entry kept when some were cut or the rows were not all there are: the timeline
 * holds every pushed video at or above it. '' = complete.
 */
const FINISH = `
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[1] then return 0 end
for i = 7, #ARGV, 500 do
  redis.call('ZADD', KEYS[1], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
local cap = tonumber(ARGV[3])
local n = redis.call('ZCARD', KEYS[1])
if n > cap then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - cap - 1) end
local floor = ''
if n > cap or ARGV[4] ~= '1' then
  local low = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if not low[1] then
    redis.call('DEL', KEYS[1], KEYS[2])
    return 0
  end
  floor = low[2] .. ':' .. low[1]
end
redis.call('HSET', KEYS[2], 'state', 'ready', 'floor', floor, 'ver', ARGV[5], 'big', ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
if n > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

/**
 * A published video into one follower's timeline, only if it exists (building or ready; a missing
 * one is built from the database when read): ARGV[1] score, ARGV[2] member, ARGV[3] bound.
 */
const PUSH = `
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local cap = tonumber(ARGV[3])
local n = redis.call('ZCARD', KEYS[1])
if n > cap then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - cap - 1)
  if redis.call('HGET', KEYS[2], 'state') == 'ready' then
    local low = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    redis.call('HSET', KEYS[2], 'floor', low[2] .. ':' .. low[1])
  end
end
if redis.call('PTTL', KEYS[1]) < 0 then
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return 1`;

/**
 * A page of a ready timeline: ARGV[1] the cursor's ms ('0' = first page), ARGV[2] its id as a
 * member ('' = none: strictly before the ms), ARGV[3] how many. Returns {'miss'}, {'building'}, or
 * {'ok', floor, version, big, token, member, score, member, score, …} newest first.
 */
const READ = `
local meta = redis.call('HMGET', KEYS[2], 'state', 'floor', 'ver', 'big', 'token')
if not meta[1] then return {'miss'} end
if meta[1] ~= 'ready' then return {'building'} end
local take = tonumber(ARGV[3])
local out = {'ok', meta[2], meta[3], meta[4], meta[5]}
local function add(list)
  for i = 1, #list, 2 do
    if (#out - 5) / 2 >= take then return end
    out[#out + 1] = list[i]
    out[#out + 1] = list[i + 1]
  end
end
if ARGV[1] == '0' then
  add(redis.call('ZREVRANGE', KEYS[1], 0, take - 1, 'WITHSCORES'))
else
  if ARGV[2] ~= '' then
    local ties = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1], 'WITHSCORES')
    local keep = {}
    for i = 1, #ties, 2 do
      if ties[i] < ARGV[2] then
        keep[#keep + 1] = ties[i]
        keep[#keep + 1] = ties[i + 1]
      end
    end
    add(keep)
  end
  add(redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '-inf', 'WITHSCORES', 'LIMIT', 0, take))
end
return out`;

const scripts = {
  begin: new RedisScript('fsvTimelineBegin', 2, BEGIN),
  finish: new RedisScript('fsvTimelineFinish', 2, FINISH),
  push: new RedisScript('fsvTimelinePush', 2, PUSH),
  read: new RedisScript('fsvTimelineRead', 2, READ),
};

/** A published video, as the fan-out needs it. */
export interface PublishedVideo {
  videoId: number;
  authorId: number;
  createTime: number;
}

type Entry = { id: number; time: number };
type ReadResult =
  | { kind: 'miss' }
  | { kind: 'building' }
  | { kind: 'ok'; floor: Entry | null; version: string; big: number[]; token: string; entries: Entry[] };

/** (time, id) newest first. */
const newer = (a: Entry, b: Entry): number => b.time - a.time || b.id - a.id;

/**
 * Following timelines in Redis, hybrid push/pull (issue 14). Per follower a sorted set of the ids
 * of the followed authors' videos (score = create_time ms, members zero-padded so ties order by
 * id), at most `TIMELINE_MAX_LENGTH` newest, built from the database on first read and then filled
 * on publish by the `video.publish` handler ({@link fanOut}) for authors with at most
 * `FANOUT_MAX_FOLLOWERS` followers; the videos of bigger authors are merged at read time from the
 * per-author index. A page is answered from the timeline only when the timeline can prove it
 * complete for that page; else (and without Redis, or with timelines off) the caller uses the SQL
 * pull. Items are read by id joined with the viewer's follows, so a deleted video or an unfollowed
 * author never shows (the stale entries are removed and that page comes from SQL).
 */
@Injectable()
export class Timelines implements OnModuleDestroy {
  private readonly logger = new Logger(Timelines.name);
  private readonly cap: number;
  private readonly maxFollowers: number;
  private readonly building = new Map<number, Promise<void>>();
  /**
   * Per viewer, the floor's ms seen by this process's last read (0 = complete): a cursor strictly
   * below it cannot be answered by the timeline (every entry is at or above the floor), so such a
   * page goes to SQL without a Redis round. A stale hint only sends a page to SQL, never a wrong one.
   */
  private readonly floorHints = new ExpiringMap<number>(10_000);
  /** Followers whose timeline drop Redis refused: read from SQL here until it is dropped. */
  private readonly dirty = new Set<number>();
  /** A fan-out Redis refused: every timeline may lack a video until the version is bumped. */
  private versionBumpOwed = false;
  private repairTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: CacheStore,
    private readonly repo: FeedRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.cap = config.timelineMaxLength;
    this.maxFollowers = config.fanoutMaxFollowers;
  }

  /** Only with Redis and a length bound (the in-process store has nothing to share between processes). */
  get enabled(): boolean {
    return this.store.kind === 'redis' && this.cap > 0;
  }

  /**
   * The viewer's following rows past the cursor, `take` of them (or all there are), from its
   * timeline; `undefined` when the timeline cannot answer (the caller pulls from SQL).
   */
  async page(
    viewerId: number,
    take: number,
    latestTime: number,
    idBefore: number,
  ): Promise<VideoRow[] | undefined> {
    if (!this.enabled || this.dirty.has(viewerId) || this.versionBumpOwed) return undefined;
    const hint = this.floorHints.get(String(viewerId));
    if (latestTime > 0 && hint !== undefined && latestTime < hint) return undefined;
    const [first, version] = await Promise.all([
      this.read(viewerId, take, latestTime, idBefore),
      this.version(),
    ]);
    let read = first;
    if (read === undefined || version === undefined || read.kind === 'building') return undefined;
    if (read.kind === 'miss' || read.version !== version) {
      await this.build(viewerId, read.kind === 'ok' ? read.token : '');
      read = await this.read(viewerId, take, latestTime, idBefore);
      if (read === undefined || read.kind !== 'ok') return undefined;
    }
    this.floorHints.set(String(viewerId), read.floor?.time ?? 0, Date.now() + FLOOR_HINT_MS);
    return this.assemble(viewerId, take, latestTime, idBefore, read);
  }

  private async assemble(
    viewerId: number,
    take: number,
    latestTime: number,
    idBefore: number,
    read: Extract<ReadResult, { kind: 'ok' }>,
  ): Promise<VideoRow[] | undefined> {
    const ids = read.entries.map((e) => e.id);
    const [rows, bigRows] = await Promise.all([
      this.repo.followedByIds(viewerId, ids),
      read.big.length > 0 ? this.repo.byAuthors(read.big, take, latestTime, idBefore) : Promise.resolve([]),
    ]);
    const byId = new Map<number, VideoRow>(rows.map((r) => [Number(r.id), r]));
    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length > 0) {
      // Deleted, or by an author no longer followed: out of the timeline; this page from SQL.
      // Asked of the primary first: a replica may not have a video that was just pushed.
      const there = new Set(
        (await this.repo.followedByIds(viewerId, missing, true)).map((r) => Number(r.id)),
      );
      const stale = missing.filter((id) => !there.has(id));
      if (stale.length > 0) {
        await this.store.withRedis((redis, prefix) =>
          redis.zrem(prefix + CacheKeys.timeline(viewerId), ...stale.map(timelineMember)),
        );
      }
      return undefined;
    }
    for (const r of bigRows) byId.set(Number(r.id), r);
    const merged = [...byId.values()]
      .map((r) => ({ row: r, key: { id: Number(r.id), time: Number(r.create_time) } }))
      .sort((a, b) => newer(a.key, b.key))
      .slice(0, take);
    // Complete: the timeline gave a full page, or holds everything, or the page ends at or above its floor.
    const last = merged[merged.length - 1]?.key;
    const complete =
      read.entries.length >= take ||
      read.floor === null ||
      (merged.length >= take && last !== undefined && newer(last, read.floor) <= 0);
    return complete ? merged.map((m) => m.row) : undefined;
  }

  private async read(
    viewerId: number,
    take: number,
    latestTime: number,
    idBefore: number,
  ): Promise<ReadResult | undefined> {
    const raw = await this.store.withRedis((redis, prefix) =>
      scripts.read.run(
        redis,
        [prefix + CacheKeys.timeline(viewerId), prefix + CacheKeys.timelineMeta(viewerId)],
        [
          latestTime > 0 ? latestTime : 0,
          latestTime > 0 && idBefore > 0 ? timelineMember(idBefore) : '',
          take,
        ],
      ),
    );
    if (!Array.isArray(raw)) return undefined;
    const reply = raw as (string | null)[];
    if (reply[0] === 'miss') return { kind: 'miss' };
    if (reply[0] !== 'ok') return { kind: 'building' };
    const entries: Entry[] = [];
    for (let i = 5; i + 1 < reply.length; i += 2) {
      entries.push({ id: Number(reply[i]), time: Number(reply[i + 1]) });
    }
    return {
      kind: 'ok',
      floor: parseFloor(reply[1] ?? ''),
      version: reply[2] ?? '0',
      big: (reply[3] ?? '').split(',').filter(Boolean).map(Number),
      token: reply[4] ?? '',
      entries,
    };
  }

  /** The current timeline version ('0' before any bump); undefined when Redis cannot say. */
  private async version(): Promise<string | undefined> {
    const v = await this.store.withRedis((redis, prefix) => redis.get(prefix + CacheKeys.timelineVersion()));
    return v === undefined ? undefined : (v ?? '0');
  }

  /** One build per viewer per process at a time (a concurrent one elsewhere makes this one a no-op). */
  private build(viewerId: number, staleToken: string): Promise<void> {
    const running = this.building.get(viewerId);
    if (running) return running;
    const p = this.buildOnce(viewerId, staleToken)
      .catch((err: unknown) => this.logger.warn(`timeline build for ${viewerId} failed: ${String(err)}`))
      .finally(() => this.building.delete(viewerId));
    this.building.set(viewerId, p);
    return p;
  }

  private async buildOnce(viewerId: number, staleToken: string): Promise<void> {
    const keys = (prefix: string): string[] => [
      prefix + CacheKeys.timeline(viewerId),
      prefix + CacheKeys.timelineMeta(viewerId),
    ];
    const token = randomUUID();
    const began = await this.store.withRedis((redis, prefix) =>
      scripts.begin.run(redis, keys(prefix), [token, BUILD_TTL_MS, staleToken]),
    );
    if (began !== 1) return;
    // In this order: an author turned big after the version was read leaves a stale version.
    const version = await this.version();
    const big = await this.bigAuthorsFollowed(viewerId);
    if (version === undefined || big === undefined) return;
    // The primary: pushes cover only what committed after this read.
    const rows = await this.repo.following(viewerId, this.cap + 1, 0, 0, true);
    const kept = rows.slice(0, this.cap);
    await this.store.withRedis((redis, prefix) =>
      scripts.finish.run(redis, keys(prefix), [
        token,
        TIMELINE_TTL_MS,
        this.cap,
        rows.length > this.cap ? '0' : '1',
        version,
        big.join(','),
        ...kept.flatMap((r) => [Number(r.create_time), timelineMember(Number(r.id))]),
      ]),
    );
  }

  /** The followed authors that are never pushed; undefined when Redis cannot say. */
  private async bigAuthorsFollowed(viewerId: number): Promise<number[] | undefined> {
    const key = CacheKeys.timelineBigAuthors();
    const size = await this.store.withRedis((redis, prefix) => redis.scard(prefix + key));
    if (size === undefined || size === 0) return size === 0 ? [] : undefined;
    // The query outside `withRedis`: its time must not count against Redis's timeout and breaker.
    const follows = await this.repo.followedAuthors(viewerId);
    if (follows.length === 0) return [];
    const flags = await this.store.withRedis((redis, prefix) => redis.smismember(prefix + key, ...follows));
    return flags === undefined ? undefined : follows.filter((_, i) => flags[i] === 1);
  }

  /**
   * The `video.publish` handler's effect: each video into its author's followers' timelines (those
   * that exist), or, for an author with more than `FANOUT_MAX_FOLLOWERS`, the author marked big (a
   * new big author makes every timeline rebuild, since those built before would not merge it).
   * A round Redis refuses leaves every timeline possibly short: the version is bumped once Redis
   * takes it (until then this process reads no timeline), and the effect throws, so the worker
   * applies the event again later (its pushes are idempotent).
   */
  async fanOut(videos: PublishedVideo[]): Promise<void> {
    if (!this.enabled) return;
    let failed = false;
    for (const v of videos) {
      const followers = await this.repo.followerIds(v.authorId, this.maxFollowers + 1);
      if (followers.length > this.maxFollowers) {
        failed = !(await this.markBig(v.authorId)) || failed;
        continue;
      }
      for (let i = 0; i < followers.length; i += FANOUT_CHUNK) {
        const chunk = followers.slice(i, i + FANOUT_CHUNK);
        const ok = await this.store.withRedis((redis, prefix) =>
          Promise.all(
            chunk.map((f) =>
              scripts.push.run(
                redis,
                [prefix + CacheKeys.timeline(f), prefix + CacheKeys.timelineMeta(f)],
                [v.createTime, timelineMember(v.videoId), this.cap],
              ),
            ),
          ),
        );
        if (ok === undefined) {
          failed = true;
          this.owe();
        }
      }
    }
    if (failed) {
      throw new DependencyUnavailableError('redis', `timelines not filled for ${videos.length} videos`);
    }
  }

  /** False when Redis refused (then a version bump is owed). */
  private async markBig(authorId: number): Promise<boolean> {
    const added = await this.store.withRedis((redis, prefix) =>
      redis.sadd(prefix + CacheKeys.timelineBigAuthors(), String(authorId)),
    );
    if (added === undefined || (added === 1 && !(await this.bumpVersion()))) {
      this.owe();
      return false;
    }
    return true;
  }

  /** A follow or unfollow committed: the follower's timeline is dropped (rebuilt on its next read). */
  async drop(followerId: number): Promise<void> {
    if (!this.enabled) return;
    if (!(await this.store.del(CacheKeys.timeline(followerId), CacheKeys.timelineMeta(followerId)))) {
      this.dirty.add(followerId);
      this.scheduleRepair();
    }
  }

  private async bumpVersion(): Promise<boolean> {
    const v = await this.store.withRedis((redis, prefix) => redis.incr(prefix + CacheKeys.timelineVersion()));
    return v !== undefined;
  }

  private owe(): void {
    this.versionBumpOwed = true;
    this.scheduleRepair();
  }

  private scheduleRepair(): void {
    this.repairTimer ??= setInterval(() => void this.repair(), REPAIR_EVERY_MS);
    this.repairTimer.unref();
  }

  private async repair(): Promise<void> {
    if (this.versionBumpOwed) {
      if (!(await this.bumpVersion())) return;
      this.versionBumpOwed = false;
    }
    for (const id of [...this.dirty]) {
      if (!(await this.store.del(CacheKeys.timeline(id), CacheKeys.timelineMeta(id)))) return;
      this.dirty.delete(id);
    }
    if (this.repairTimer) clearInterval(this.repairTimer);
    this.repairTimer = undefined;
    this.logger.log('timeline repairs caught up');
  }

  onModuleDestroy(): void {
    if (this.repairTimer) clearInterval(this.repairTimer);
  }
}

function parseFloor(raw: string): Entry | null {
  if (raw === '') return null;
  const [time, id] = raw.split(':');
  return { time: Number(time), id: Number(id) };
}
