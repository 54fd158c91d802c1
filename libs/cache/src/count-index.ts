import type { AlsoSet, CacheStore } from './cache-store';
import { indexMember } from './id-index';
import { RedisScript } from './redis-script';

/**
 * A bounded index of video ids in Redis ordered by a count, highest first (the likes-count feed):
 * a sorted set (score = the count, members zero-padded ids, so equal counts order by id as strings
 * do) and a meta hash (state, build token, the build's ticket, the floor). Unlike the time indexes
 * ({@link readIndex}), an entry's score changes after it was written, so the index is kept exact by
 * tickets rather than pushes:
 *
 * - a writer, after its commit, marks the ids whose count changed (or that were published or
 *   deleted) in a dirty set, each with the next value of a sequence (its ticket): no database read;
 * - a reader about to serve a page takes a ticket `T` and the ids marked below it, reads their counts
 *   from the primary, and applies each one only where `T` is above both that id's last applied
 *   ticket and the build's ticket, then clears those marks below `T`. A mark below `T` was written
 *   after its commit and before `T`, so the read after `T` sees that commit: a slower, older refresh
 *   can never overwrite a newer count, and a mark made after `T` stays for the next refresh;
 * - the floor is the largest count not in the index (-1 when it holds every video): every video
 *   counted above it is in the index, and only entries above it are served. Trimming raises it.
 *
 * The parts expire with the meta; one lost on its own (evicted) or a lost sequence drops the whole
 * index (see COMMON), rebuilt by the next read.
 */

/** Members, scores and the marks share the `{likes}` hash tag (one slot: one script on a Cluster). */
export type CountIndexKeys = {
  /** The sorted set: score = count. */
  z: string;
  /** state, token, bt (build ticket), floor. */
  meta: string;
  /** Dirty ids: member, score = the ticket of its mark. */
  dirty: string;
  /** Per id, the ticket of the refresh that last applied its count. */
  tickets: string;
  /** The ticket sequence (never expires: tickets must rise across rebuilds). */
  seq: string;
};

const keyList = (k: CountIndexKeys): string[] => [k.z, k.meta, k.dirty, k.tickets, k.seq];

/**
 * Shared by every script. The parts of an index (sorted set, marks, tickets) expire with its meta
 * but can be evicted one by one (`volatile-lru`): the meta records their sizes after every change
 * (`settle`), and a script that finds one changed behind its back (`intact`) drops the whole
 * index, which the next read rebuilds. `settle` also gives a part created after the build the
 * meta's remaining TTL.
 */
const COMMON = `
local function drop()
  redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
end
local function intact()
  local n = redis.call('HMGET', KEYS[2], 'zn', 'dn', 'tn')
  if redis.call('ZCARD', KEYS[1]) == tonumber(n[1]) and redis.call('ZCARD', KEYS[3]) == tonumber(n[2])
    and redis.call('HLEN', KEYS[4]) == tonumber(n[3]) then return true end
  drop()
  return false
end
local function settle()
  redis.call('HSET', KEYS[2], 'zn', redis.call('ZCARD', KEYS[1]), 'dn', redis.call('ZCARD', KEYS[3]),
    'tn', redis.call('HLEN', KEYS[4]))
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then
    for _, k in ipairs({KEYS[1], KEYS[3], KEYS[4]}) do
      if redis.call('PTTL', k) == -1 then redis.call('PEXPIRE', k, ttl) end
    end
  end
end
`;

/**
 * Marks ids dirty (ARGV[1] the most marks kept, then members), only while an
 * index exists (building or ready: without one there is nothing to keep; a build reads the
 * database after its ticket). Drops the whole index when more marks wait (nobody refreshes: the
 * next read rebuilds). Returns 0 no index, 1 marked, 2 dropped.
 */
const markLua = (firstMember: number): string =>
  COMMON +
  `
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if not intact() then return 2 end
for i = ${firstMember}, #ARGV do
  redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[5]), ARGV[i])
end
if redis.call('ZCARD', KEYS[3]) > tonumber(ARGV[1]) then
  drop()
  return 2
end
settle()
return 1`;
const MARK = markLua(2);
/**
 * {@link MARK}, after setting KEYS[6] to ARGV[2] for ARGV[3] ms (an {@link AlsoSet}, whatever the
 * mark does; one server only); the members from ARGV[4].
 */
const MARK_ALSO = `redis.call('SET', KEYS[6], ARGV[2], 'PX', ARGV[3])
${markLua(4)}`;

/**
 * Starts a build (ARGV[1] token, ARGV[2] the marker's TTL) when there is no index: empties it,
 * clears the marks, takes the build's ticket. Returns the ticket, or 0.
 */
const BEGIN = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('UNLINK', KEYS[1], KEYS[3], KEYS[4])
local bt = redis.call('INCR', KEYS[5])
redis.call('HSET', KEYS[2], 'state', 'building', 'token', ARGV[1], 'bt', bt, 'floor', '-1',
  'zn', 0, 'dn', 0, 'tn', 0)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return bt`;

/**
 * Ends the build of ARGV[1] (ARGV[2] TTL, ARGV[3] floor, then score/member pairs). Marks made
 * since its ticket stay: the first refresh applies them.
 */
const FINISH =
  COMMON +
  `
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[1] then return 0 end
if not intact() then return 0 end
for i = 4, #ARGV, 500 do
  redis.call('ZADD', KEYS[1], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
redis.call('HSET', KEYS[2], 'state', 'ready', 'floor', ARGV[3])
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
settle()
return 1`;

/**
 * Shared by PEEK and APPLY: the page past the cursor, highest first, only entries above the floor.
 * cscore '' = first page; else cprobe is a member that sorts just below the cursor's id (see
 * {@link cursorProbe}): added at the cursor's count, its rank is where the page starts (whatever
 * count the cursor's own video has now), then removed. Returns {'ok', floor, member, score, ...}.
 */
const PAGE = `
local function page(floor, cscore, cprobe, take)
  local from = 0
  if cscore ~= '' then
    redis.call('ZADD', KEYS[1], cscore, cprobe)
    from = redis.call('ZREVRANK', KEYS[1], cprobe)
    redis.call('ZREM', KEYS[1], cprobe)
  end
  local list = redis.call('ZREVRANGE', KEYS[1], from, from + take - 1, 'WITHSCORES')
  local out = {'ok', floor}
  for i = 1, #list, 2 do
    if tonumber(list[i + 1]) <= tonumber(floor) then break end
    out[#out + 1] = list[i]
    out[#out + 1] = list[i + 1]
  end
  return out
end
`;

/**
 * A page (ARGV[1] cursor count or '', ARGV[2] cursor probe, ARGV[3] take, ARGV[4] the most dirty
 * ids handed out). Returns {'miss'}, {'building'}, {'dirty', ticket, member, ...} when marks wait
 * (the reader refreshes them, then APPLY answers the page), or the page.
 */
const PEEK =
  COMMON +
  PAGE +
  `
local meta = redis.call('HMGET', KEYS[2], 'state', 'floor', 'bt')
if not meta[1] then return {'miss'} end
if meta[1] ~= 'ready' then return {'building'} end
if not intact() then return {'miss'} end
if redis.call('ZCARD', KEYS[3]) > 0 then
  local t = redis.call('INCR', KEYS[5])
  if t <= tonumber(meta[3]) then
    -- The sequence was lost (evicted): no ticket can be trusted. Rebuilt by the next read.
    drop()
    return {'miss'}
  end
  local out = {'dirty', t}
  local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', string.format('(%d', t), 'LIMIT', 0, tonumber(ARGV[4]))
  for i = 1, #ids do out[#out + 1] = ids[i] end
  return out
end
return page(meta[2], ARGV[1], ARGV[2], tonumber(ARGV[3]))`;

/**
 * Applies a refresh (ARGV[1..3] the page as in PEEK, ARGV[4] the cap, ARGV[5] ticket, then
 * member/count pairs, count '' = the video is gone), then answers the page. Returns {'stale'} when
 * the index was rebuilt after the ticket, or {'dirty'} when marks below the ticket remain (more
 * than one refresh hands out).
 */
const APPLY =
  COMMON +
  PAGE +
  `
local meta = redis.call('HMGET', KEYS[2], 'state', 'floor', 'bt')
if meta[1] ~= 'ready' then return {'stale'} end
local t = tonumber(ARGV[5])
if t <= tonumber(meta[3]) then return {'stale'} end
if not intact() then return {'stale'} end
local floor = tonumber(meta[2])
for i = 6, #ARGV, 2 do
  local m, c = ARGV[i], ARGV[i + 1]
  local last = redis.call('HGET', KEYS[4], m)
  if not last or tonumber(last) < t then
    if c == '' then
      redis.call('ZREM', KEYS[1], m)
    elseif tonumber(c) > floor or redis.call('ZSCORE', KEYS[1], m) then
      redis.call('ZADD', KEYS[1], c, m)
    end
    redis.call('HSET', KEYS[4], m, t)
  end
  local mark = redis.call('ZSCORE', KEYS[3], m)
  if mark and tonumber(mark) < t then redis.call('ZREM', KEYS[3], m) end
end
local cap = tonumber(ARGV[4])
local n = redis.call('ZCARD', KEYS[1])
if n > cap then
  local cut = redis.call('ZRANGE', KEYS[1], n - cap - 1, n - cap - 1, 'WITHSCORES')
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - cap - 1)
  if tonumber(cut[2]) > floor then
    floor = tonumber(cut[2])
    redis.call('HSET', KEYS[2], 'floor', cut[2])
  end
end
settle()
local left = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', string.format('(%d', t), 'LIMIT', 0, 1)
if left[1] then return {'dirty'} end
return page(tostring(floor), ARGV[1], ARGV[2], tonumber(ARGV[3]))`;

const scripts = {
  mark: new RedisScript('fsvCountIndexMark', 5, MARK),
  markAlso: new RedisScript('fsvCountIndexMarkAlso', 6, MARK_ALSO),
  begin: new RedisScript('fsvCountIndexBegin', 5, BEGIN),
  finish: new RedisScript('fsvCountIndexFinish', 5, FINISH),
  peek: new RedisScript('fsvCountIndexPeek', 5, PEEK),
  apply: new RedisScript('fsvCountIndexApply', 5, APPLY),
};

export type CountEntry = { id: number; count: number };
export type CountCursor = { count: number; id: number };
export type CountPageRead =
  | { kind: 'miss' | 'building' | 'stale' | 'dirty' }
  | { kind: 'refresh'; ticket: number; ids: number[] }
  | { kind: 'ok'; floor: number; entries: CountEntry[] };

const prefixed = (keys: CountIndexKeys, prefix: string): string[] => keyList(keys).map((k) => prefix + k);

/**
 * A member that sorts just below `id`'s and above `id - 1`'s (`~` sorts after every digit), never an
 * entry's: at the cursor's count, the entries after it are exactly the keyset `(count < c) or
 * (count = c and id < i)`.
 */
export const cursorProbe = (id: number): string => `${indexMember(Math.max(0, id - 1))}~`;

function pageArgs(cursor: CountCursor | undefined, take: number): (string | number)[] {
  return cursor ? [cursor.count, cursorProbe(cursor.id), take] : ['', '', take];
}

function parsePage(raw: unknown): CountPageRead | undefined {
  if (!Array.isArray(raw)) return undefined;
  const reply = raw as (string | number | null)[];
  const kind = reply[0];
  if (kind === 'dirty' && reply.length > 1) {
    return { kind: 'refresh', ticket: Number(reply[1]), ids: reply.slice(2).map(Number) };
  }
  if (kind !== 'ok') {
    const k = String(kind);
    return k === 'miss' || k === 'building' || k === 'stale' || k === 'dirty' ? { kind: k } : undefined;
  }
  const entries: CountEntry[] = [];
  for (let i = 2; i + 1 < reply.length; i += 2) {
    entries.push({ id: Number(reply[i]), count: Number(reply[i + 1]) });
  }
  return { kind: 'ok', floor: Number(reply[1]), entries };
}

/**
 * Marks `ids` dirty; 0 no index, 1 marked, 2 the index was dropped (too many marks waited, or a
 * part was lost); undefined = Redis refused. `also` is set with the marks ({@link AlsoSet}).
 */
export async function markCounts(
  store: CacheStore,
  keys: CountIndexKeys,
  ids: number[],
  maxDirty: number,
  also?: AlsoSet,
): Promise<number | undefined> {
  const members = ids.map(indexMember);
  const r = await store.withRedis(
    async (redis, prefix) => {
      if (also && !redis.isCluster) {
        return scripts.markAlso.run(
          redis,
          [...prefixed(keys, prefix), prefix + also.key],
          [maxDirty, also.value, also.ttlMs, ...members],
        );
      }
      const marked = await scripts.mark.run(redis, prefixed(keys, prefix), [maxDirty, ...members]);
      // Another slot: its own command, once the marks have landed.
      if (also) await redis.set(prefix + also.key, also.value, 'PX', also.ttlMs);
      return marked;
    },
    false,
    false,
    // The index's keys are not held near; the generation is.
    also ? [also.key] : [],
  );
  return r === undefined ? undefined : Number(r);
}

/** Starts a build under `token`; its ticket, or 0 when an index exists or Redis refused. */
export async function beginCountBuild(
  store: CacheStore,
  keys: CountIndexKeys,
  token: string,
  markerTtlMs: number,
): Promise<number> {
  const r = await store.withRedis((redis, prefix) =>
    scripts.begin.run(redis, prefixed(keys, prefix), [token, markerTtlMs]),
  );
  return Number(r ?? 0);
}

/** Ends the build of `token` with `entries` (highest first) and `floor`. */
export async function finishCountBuild(
  store: CacheStore,
  keys: CountIndexKeys,
  b: { token: string; ttlMs: number; floor: number; entries: CountEntry[] },
): Promise<void> {
  await store.withRedis((redis, prefix) =>
    scripts.finish.run(redis, prefixed(keys, prefix), [
      b.token,
      b.ttlMs,
      b.floor,
      ...b.entries.flatMap((e) => [e.count, indexMember(e.id)]),
    ]),
  );
}

/** The page past `cursor`, or the dirty ids to refresh first; undefined = Redis refused. */
export async function peekCountPage(
  store: CacheStore,
  keys: CountIndexKeys,
  cursor: CountCursor | undefined,
  take: number,
  maxRefresh: number,
): Promise<CountPageRead | undefined> {
  const raw = await store.withRedis(
    (redis, prefix) =>
      scripts.peek.run(redis, prefixed(keys, prefix), [...pageArgs(cursor, take), maxRefresh]),
    true,
  );
  return parsePage(raw);
}

/** Applies the counts a refresh of `ticket` read (`null` = gone), then reads the page. */
export async function applyCountsAndPage(
  store: CacheStore,
  keys: CountIndexKeys,
  r: { ticket: number; counts: Map<number, number | null>; cap: number },
  cursor: CountCursor | undefined,
  take: number,
): Promise<CountPageRead | undefined> {
  const pairs = [...r.counts].flatMap(([id, c]) => [indexMember(id), c === null ? '' : c]);
  const raw = await store.withRedis((redis, prefix) =>
    scripts.apply.run(redis, prefixed(keys, prefix), [...pageArgs(cursor, take), r.cap, r.ticket, ...pairs]),
  );
  return parsePage(raw);
}
