import type { CacheStore, RedisClient } from './cache-store';
import { RedisScript } from './redis-script';

/**
 * A bounded index of video ids in Redis, newest first by (create_time, id): a sorted set (score =
 * create_time ms, members zero-padded ids) and a meta hash (state, build token, completeness
 * floor, version, extra). Built from the database under a token, then kept current by pushes; a
 * page is read past a SPEC cursor (ms + id tie-breaker). Used by the following timelines (one per
 * follower) and the latest index (one for everyone).
 */

/** How long an index lives after its build (pushes do not extend it): a lost push heals within it. */
export const INDEX_TTL_MS = 30 * 60 * 1000;
/**
 * An index's sorted set of more than {@link BIG_SET} entries outlives its meta by this much: the
 * meta's expiry makes the next read rebuild, whose `BEGIN` drops the old set with `UNLINK` (freed
 * off Redis's main thread). A set left to its own expiry is freed on the main thread (unless
 * `lazyfree-lazy-expire`): 51 ms for the latest index's 200,000 entries here, against 2.7 ms for
 * `UNLINK` (bench/README). A set without its meta is read by nothing (every script asks the meta
 * first).
 */
export const SET_GRACE_MS = 10 * 60 * 1000;
/** Entries above which a set gets {@link SET_GRACE_MS} (smaller ones free in a few ms: no memory spent on them). */
export const BIG_SET = 10_000;

/** Lua: KEYS[1]'s TTL set to `ms`, and {@link SET_GRACE_MS} more when it is big. */
const SET_TTL = `
local function setTtl(ms)
  if redis.call('ZCARD', KEYS[1]) > ${BIG_SET} then ms = ms + ${SET_GRACE_MS} end
  redis.call('PEXPIRE', KEYS[1], ms)
end`;
/** A build that has not finished within this is abandoned (its marker expires; the next read rebuilds). */
export const BUILD_TTL_MS = 10_000;
/** How long a process remembers an index's floor (a page past it goes to SQL without a Redis round). */
export const FLOOR_HINT_MS = 5000;
/** How often a write Redis refused is repaired again (a version bump, a drop). */
export const REPAIR_EVERY_MS = 250;

/** Members are zero-padded ids, so equal scores (one millisecond) order by id as strings do. */
const ID_WIDTH = 15;
export const indexMember = (id: number): string => String(id).padStart(ID_WIDTH, '0');

/**
 * Starts a build: KEYS[1] the timeline, KEYS[2] its meta (a guarded index's KEYS[3] and KEYS[4],
 * its follow set and pending pushes, are emptied with them); ARGV[1] the build's token, ARGV[2] the
 * marker's TTL, ARGV[3] the token of a ready timeline found stale ('' = only when there is none).
 * From here on pushes land in the (emptied) timeline (a guarded one's wait in KEYS[4]), so nothing
 * published after the build's read of the database is missed.
 */
const BEGIN = `
local state = redis.call('HGET', KEYS[2], 'state')
if state then
  if ARGV[3] == '' or state ~= 'ready' or redis.call('HGET', KEYS[2], 'token') ~= ARGV[3] then return 0 end
end
redis.call('UNLINK', unpack(KEYS))
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
const FINISH_TAIL = `${SET_TTL}
for i = first, #ARGV, 500 do
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
if n > 0 then setTtl(tonumber(ARGV[2])) end
return 1`;

const FINISH = `
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[1] then return 0 end
local first = 7
${FINISH_TAIL}`;

/**
 * Part of a large build's rows, ahead of its {@link FINISH}, if the build is still this one's:
 * ARGV[1] token, ARGV[2] the marker's TTL (renewed, so a long build's marker does not lapse; the
 * set gets the same TTL, so an abandoned build's rows go with its marker), then score/member pairs.
 */
const ADD = `${SET_TTL}
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[1] then return 0 end
for i = 3, #ARGV, 500 do
  redis.call('ZADD', KEYS[1], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
setTtl(tonumber(ARGV[2]))
return 1`;

/**
 * Ends a guarded build (a following timeline): as {@link FINISH}, and first KEYS[3], the follow
 * set, is written from ARGV[7] (how many) and the account ids after it (with the member '0', so an
 * empty set still exists), and the pushes that came while the build ran (KEYS[4], member ->
 * 'score:author') join the rows only when the set holds their author. The follows were read after
 * the build began, so a push whose follower list was read before an unfollow (the unfollow's drop
 * came before this build began) is left out.
 */
const FINISH_GUARDED = `
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[1] then return 0 end
local follows = tonumber(ARGV[7])
redis.call('DEL', KEYS[3])
redis.call('SADD', KEYS[3], '0')
for i = 8, 7 + follows, 500 do
  redis.call('SADD', KEYS[3], unpack(ARGV, i, math.min(i + 499, 7 + follows)))
end
redis.call('PEXPIRE', KEYS[3], ARGV[2])
local pending = redis.call('HGETALL', KEYS[4])
for i = 1, #pending, 2 do
  local sep = string.find(pending[i + 1], ':', 1, true)
  if redis.call('SISMEMBER', KEYS[3], string.sub(pending[i + 1], sep + 1)) == 1 then
    redis.call('ZADD', KEYS[1], string.sub(pending[i + 1], 1, sep - 1), pending[i])
  end
end
redis.call('DEL', KEYS[4])
local first = 8 + follows
${FINISH_TAIL}`;

/**
 * A published video into one follower's timeline, only if it exists (building or ready; a missing
 * one is built from the database when read): ARGV[1] score, ARGV[2] member, ARGV[3] bound. An
 * entry below a ready index's floor is left out: the index holds every entry at or above its floor
 * and none below it, so a full page read from it is exact (an old video pushed again, into an
 * index that deletes had shrunk below its bound, would otherwise sit below a gap).
 */
const PUSH_TAIL = `${SET_TTL}
local floor = redis.call('HGET', KEYS[2], 'floor')
if floor and floor ~= '' then
  local sep = string.find(floor, ':', 1, true)
  local fs = tonumber(string.sub(floor, 1, sep - 1))
  local score = tonumber(ARGV[1])
  if score < fs or (score == fs and ARGV[2] < string.sub(floor, sep + 1)) then return 0 end
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local cap = tonumber(ARGV[3])
local n = redis.call('ZCARD', KEYS[1])
-- Cut to the bound only once ready: a build in parts may still add entries older than the ones a
-- cut would drop (its finish cuts and sets the floor), which would leave a gap above the floor.
if n > cap and redis.call('HGET', KEYS[2], 'state') == 'ready' then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - cap - 1)
  local low = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  redis.call('HSET', KEYS[2], 'floor', low[2] .. ':' .. low[1])
end
if redis.call('PTTL', KEYS[1]) < 0 then
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then setTtl(ttl) end
end
return 1`;

const PUSH = `
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
${PUSH_TAIL}`;

/**
 * A published video into one follower's guarded timeline (KEYS as {@link FINISH_GUARDED}), by the
 * author ARGV[4]: while it builds, kept aside for the build's end to check; once ready, pushed only
 * when the follow set holds the author (a follower list read before an unfollow pushes nothing into
 * the timeline rebuilt after it). A ready timeline without its set (evicted alone) is dropped, to
 * be rebuilt on its next read.
 */
const PUSH_GUARDED = `
local state = redis.call('HGET', KEYS[2], 'state')
if not state then return 0 end
if state ~= 'ready' then
  redis.call('HSET', KEYS[4], ARGV[2], ARGV[1] .. ':' .. ARGV[4])
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[4], ttl) end
  return 1
end
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 0
end
if redis.call('SISMEMBER', KEYS[3], ARGV[4]) == 0 then return 0 end
${PUSH_TAIL}`;

/**
 * A page of a ready timeline: ARGV[1] the cursor's ms ('0' = first page), ARGV[2] its id as a
 * member ('' = none: strictly before the ms), ARGV[3] how many. Returns {'miss'}, {'building'}, or
 * {'ok', floor, version, big, token, member, score, member, score, …} newest first; with a fourth
 * key (a guarded index's current version, on one Redis server), {'ok', floor, version, big, token,
 * current version ('0' when unset), member, score, …}.
 */
const READ_HEAD = `
local meta = redis.call('HMGET', KEYS[2], 'state', 'floor', 'ver', 'big', 'token')
if not meta[1] then return {'miss'} end
if meta[1] ~= 'ready' then return {'building'} end
`;

/**
 * {@link READ} of a guarded index (KEYS[3] its follow set): a ready one without its set (evicted
 * alone, or built by a version before the set) is dropped and reads as a miss, so it is rebuilt.
 */
const READ_GUARD = `
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {'miss'}
end
`;

const READ_TAIL = `
local take = tonumber(ARGV[3])
local out = {'ok', meta[2], meta[3], meta[4], meta[5]}
if KEYS[4] then out[6] = redis.call('GET', KEYS[4]) or '0' end
local base = #out
local function add(list)
  for i = 1, #list, 2 do
    if (#out - base) / 2 >= take then return end
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

const READ = READ_HEAD + READ_TAIL;
const READ_GUARDED = READ_HEAD + READ_GUARD + READ_TAIL;

const scripts = {
  begin: new RedisScript('fsvTimelineBegin', 2, BEGIN),
  finish: new RedisScript('fsvTimelineFinish', 2, FINISH),
  add: new RedisScript('fsvIndexAdd', 2, ADD),
  push: new RedisScript('fsvTimelinePush', 2, PUSH),
  read: new RedisScript('fsvTimelineRead', 2, READ),
  readGuarded: new RedisScript('fsvGuardedRead', 3, READ_GUARDED),
  readVersioned: new RedisScript('fsvGuardedReadVersioned', 4, READ_GUARDED),
  beginGuarded: new RedisScript('fsvGuardedBegin', 4, BEGIN),
  finishGuarded: new RedisScript('fsvGuardedFinish', 4, FINISH_GUARDED),
  pushGuarded: new RedisScript('fsvGuardedPush', 4, PUSH_GUARDED),
};

export type IndexEntry = { id: number; time: number };
export type IndexRead =
  | { kind: 'miss' }
  | { kind: 'building' }
  | {
      kind: 'ok';
      floor: IndexEntry | null;
      version: string;
      extra: string;
      token: string;
      /** The current version, when the read was asked for it (`versionKey`): '0' when unset. */
      current?: string;
      entries: IndexEntry[];
    };

/** (time, id) newest first. */
export const newer = (a: IndexEntry, b: IndexEntry): number => b.time - a.time || b.id - a.id;

/** An index's two keys, with the store's prefix. */
export type IndexKeys = (prefix: string) => [string, string];
/**
 * A guarded index's four keys (the following timelines): the sorted set, its meta, the follow set
 * and the pushes kept aside while it builds, with the store's prefix, sharing one hash tag.
 */
export type GuardedIndexKeys = (prefix: string) => [string, string, string, string];

/**
 * The entries past the cursor, `take` of them; undefined when Redis cannot say. With `versionKey`
 * (a guarded index's version, unprefixed), the read also returns that key's current value: read in
 * the same script on one Redis server (one command, not two), and by a `GET` sent alongside on a
 * Redis Cluster (another slot).
 */
export async function readIndex(
  store: CacheStore,
  keys: IndexKeys | GuardedIndexKeys,
  take: number,
  latestTime: number,
  idBefore: number,
  versionKey?: string,
): Promise<IndexRead | undefined> {
  const got = await store.withRedis(async (redis, prefix) => {
    const k = keys(prefix);
    const args = [
      latestTime > 0 ? latestTime : 0,
      latestTime > 0 && idBefore > 0 ? indexMember(idBefore) : '',
      take,
    ];
    if (k.length !== 4) return { reply: await scripts.read.run(redis, k, args) };
    const guarded = k.slice(0, 3);
    if (versionKey === undefined) return { reply: await scripts.readGuarded.run(redis, guarded, args) };
    if (!redis.isCluster) {
      return {
        reply: await scripts.readVersioned.run(redis, [...guarded, prefix + versionKey], args),
        inReply: true,
      };
    }
    const [reply, current] = await Promise.all([
      scripts.readGuarded.run(redis, guarded, args),
      redis.get(prefix + versionKey),
    ]);
    return { reply, current: current ?? '0' };
  }, true);
  if (got === undefined || !Array.isArray(got.reply)) return undefined;
  const reply = got.reply as (string | null)[];
  if (reply[0] === 'miss') return { kind: 'miss' };
  if (reply[0] !== 'ok') return { kind: 'building' };
  const base = got.inReply ? 6 : 5;
  const entries: IndexEntry[] = [];
  for (let i = base; i + 1 < reply.length; i += 2) {
    entries.push({ id: Number(reply[i]), time: Number(reply[i + 1]) });
  }
  return {
    kind: 'ok',
    floor: parseFloor(reply[1] ?? ''),
    version: reply[2] ?? '0',
    extra: reply[3] ?? '',
    token: reply[4] ?? '',
    current: got.inReply ? (reply[5] ?? '0') : got.current,
    entries,
  };
}

/**
 * Starts a build under `token` (a ready index is replaced only when its token is `staleToken`);
 * false when another build runs, the index is ready, or Redis refused.
 */
export async function beginBuild(
  store: CacheStore,
  keys: IndexKeys | GuardedIndexKeys,
  token: string,
  markerTtlMs: number,
  staleToken: string,
): Promise<boolean> {
  const began = await store.withRedis((redis, prefix) => {
    const k = keys(prefix);
    return (k.length === 4 ? scripts.beginGuarded : scripts.begin).run(redis, k, [
      token,
      markerTtlMs,
      staleToken,
    ]);
  });
  return began === 1;
}

/** A finished build: `entries` newest first, at most `cap`; `all` when they are everything there is. */
export interface IndexBuild {
  token: string;
  ttlMs: number;
  cap: number;
  all: boolean;
  version: string;
  extra: string;
  entries: IndexEntry[];
}

const finishArgs = (b: IndexBuild): (string | number)[] => [
  b.token,
  b.ttlMs,
  b.cap,
  b.all ? '1' : '0',
  b.version,
  b.extra,
];
const entryArgs = (entries: IndexEntry[]): (string | number)[] =>
  entries.flatMap((e) => [e.time, indexMember(e.id)]);

/**
 * Entries a build sends per script call: a large index (the latest index may hold hundreds of
 * thousands) is sent in parts, each a few milliseconds of Redis, so no call nears the store's
 * command timeout and other clients' commands run between them.
 */
export const BUILD_CHUNK = 2000;

/**
 * Part of the build of `token`'s entries, ahead of its {@link finishBuild}, renewing its marker for
 * `markerTtlMs`. False when Redis refused or the build is no longer this one.
 */
export async function addToBuild(
  store: CacheStore,
  keys: IndexKeys,
  token: string,
  markerTtlMs: number,
  entries: IndexEntry[],
): Promise<boolean> {
  const added = await store.withRedis((redis, prefix) =>
    scripts.add.run(redis, keys(prefix), [token, markerTtlMs, ...entryArgs(entries)]),
  );
  return added === 1;
}

/**
 * Ends the build of `b.token` with its entries (joining any {@link addToBuild} sent); stores
 * nothing when the build is no longer this one. Entries beyond {@link BUILD_CHUNK} go first in
 * parts, the last part with the finish. False when Redis refused or the build was replaced.
 */
export async function finishBuild(
  store: CacheStore,
  keys: IndexKeys,
  b: IndexBuild,
  markerTtlMs: number,
): Promise<boolean> {
  let from = 0;
  for (; b.entries.length - from > BUILD_CHUNK; from += BUILD_CHUNK) {
    if (!(await addToBuild(store, keys, b.token, markerTtlMs, b.entries.slice(from, from + BUILD_CHUNK)))) {
      return false;
    }
  }
  const done = await store.withRedis((redis, prefix) =>
    scripts.finish.run(redis, keys(prefix), [...finishArgs(b), ...entryArgs(b.entries.slice(from))]),
  );
  return done === 1;
}

/**
 * {@link finishBuild} for a guarded index: `follows` (the accounts followed, read after the build
 * began) become its follow set, and only the pushes by those accounts kept aside meanwhile join it.
 */
export async function finishGuardedBuild(
  store: CacheStore,
  keys: GuardedIndexKeys,
  b: IndexBuild & { follows: number[] },
): Promise<void> {
  await store.withRedis((redis, prefix) =>
    scripts.finishGuarded.run(redis, keys(prefix), [
      ...finishArgs(b),
      b.follows.length,
      ...b.follows,
      ...entryArgs(b.entries),
    ]),
  );
}

/** One entry into an index that exists (building or ready), on a client `withRedis` handed out. */
export function pushEntry(
  redis: RedisClient,
  keys: [string, string],
  entry: IndexEntry,
  cap: number,
): Promise<unknown> {
  return scripts.push.run(redis, keys, [entry.time, indexMember(entry.id), cap]);
}

/**
 * One video by `authorId` into a guarded index that exists: kept aside while it builds (checked
 * when the build ends), else added if its follow set holds the author.
 */
export function pushGuardedEntry(
  redis: RedisClient,
  keys: [string, string, string, string],
  entry: IndexEntry,
  authorId: number,
  cap: number,
): Promise<unknown> {
  return scripts.pushGuarded.run(redis, keys, [entry.time, indexMember(entry.id), cap, authorId]);
}

function parseFloor(raw: string): IndexEntry | null {
  if (raw === '') return null;
  const [time, id] = raw.split(':');
  return { time: Number(time), id: Number(id) };
}
