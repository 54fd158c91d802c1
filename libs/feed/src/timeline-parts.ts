import { randomUUID } from 'node:crypto';
import { CacheKeys, CacheStore, IndexEntry, INDEX_TTL_MS, indexMember, RedisScript } from '@app/cache';

/** How long a viewer's parts live, from the first read that found none. */
export const TIMELINE_PARTS_TTL_MS = INDEX_TTL_MS;

/**
 * Deep parts of a following timeline: runs of the viewer's following feed past its timeline,
 * loaded from the database a part at a time, so that paging deep (or at any cursor) asks the
 * database once per part instead of once per page.
 *
 * A key is a video's place in the feed's order as text: `create_time` ms and id, each zero-padded
 * to 15 digits, so keys compare as strings as the feed orders (newest = greatest). A cursor is the
 * key of (latest_time, id_before); with no id_before, of (latest_time, 0): every video of that
 * millisecond sorts above it, as SPEC's "strictly before latest_time" wants.
 *
 * KEYS[1] a hash of parts (field `tok`: a random token given when the hash is made; `n`: the
 * entries held; field `<top>|<low>`: the keys of every followed video with `low <= key < top`,
 * newest first, packed; `low` empty = down to the first video), KEYS[2] the parts' names in a
 * sorted set of equal scores (by top, as text). Both live 30 min from the hash's making. A part is
 * written only under the token the read before its load saw (a read that finds no hash makes one):
 * a follow or unfollow deletes both keys before it answers, so a load that began before it is
 * refused. The parts do not depend on the timeline: each is the SQL pull's answer between its two
 * cursors, which only a follow, an unfollow (both drop them) or a delete (a page that finds a gone
 * video drops the parts it read) change below a settled cursor. A name in the directory whose part
 * is gone (evicted) is no part; the hash evicted alone loses `tok`, and every part with it; the
 * directory evicted alone leaves each part unread until a load writes it again, which relists it.
 */
const WIDTH = 30;

/** Lua: the index (from 0) of the first key below `key` in a packed part (newest first), binary search. */
const FIRST_BELOW = `
local W = ${WIDTH}
local function firstBelow(part, key)
  local lo, hi = 0, #part / W
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if string.sub(part, mid * W + 1, mid * W + W) < key then hi = mid else lo = mid + 1 end
  end
  return lo
end`;

/**
 * ARGV[1] the cursor, ARGV[2] how many, ARGV[3] a token for a hash made here, ARGV[4] its TTL (ms).
 * Returns {'miss', token} or {'ok', token, parts used, name…, key…} newest first: `take` keys, or
 * fewer when they reach the first video. Parts are followed down while each ends where the next
 * begins (at most 8).
 */
const READ = `${FIRST_BELOW}
local tok = redis.call('HGET', KEYS[1], 'tok')
if not tok then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[1], 'tok', ARGV[3], 'n', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {'miss', ARGV[3]}
end
local take = tonumber(ARGV[2])
local cur = ARGV[1]
local used = {}
local keys = {}
for hop = 1, 8 do
  local part, low = nil, nil
  for _, name in ipairs(redis.call('ZRANGEBYLEX', KEYS[2], '[' .. cur, '+', 'LIMIT', 0, 4)) do
    local l = string.sub(name, W + 2)
    if l == '' or l < cur then
      part = redis.call('HGET', KEYS[1], name)
      if part then
        low = l
        used[#used + 1] = name
        break
      end
      redis.call('ZREM', KEYS[2], name)
    end
  end
  if not part then return {'miss', tok} end
  local n = #part / W
  for i = firstBelow(part, cur), n - 1 do
    if #keys >= take then break end
    keys[#keys + 1] = string.sub(part, i * W + 1, i * W + W)
  end
  if #keys >= take or low == '' then
    local out = {'ok', tok, #used}
    for _, u in ipairs(used) do out[#out + 1] = u end
    for _, k in ipairs(keys) do out[#out + 1] = k end
    return out
  end
  cur = low
end
return {'miss', tok}`;

/**
 * ARGV[1] the token read before the load, ARGV[2] the part's top, ARGV[3] its low ('' = down to
 * the first video), ARGV[4] its keys packed, ARGV[5] the most entries kept. The part is cut at the
 * top of the nearest part below when they overlap (what lies under it is known). Returns 1 when
 * written, 0 when refused (the parts dropped since the read, over the bound, nothing between its
 * cursors).
 */
const WRITE = `${FIRST_BELOW}
if redis.call('HGET', KEYS[1], 'tok') ~= ARGV[1] then return 0 end
local top, low, part = ARGV[2], ARGV[3], ARGV[4]
local below = redis.call('ZREVRANGEBYLEX', KEYS[2], '(' .. top, '-', 'LIMIT', 0, 1)[1]
if below then
  local btop = string.sub(below, 1, W)
  if low == '' or btop > low then
    part = string.sub(part, 1, firstBelow(part, btop) * W)
    low = btop
  end
end
if low ~= '' and low >= top then return 0 end
local name = top .. '|' .. low
-- Held already (loaded by a concurrent page): listed again all the same, in case the directory
-- was evicted without the hash, which left the part unreachable.
if redis.call('HEXISTS', KEYS[1], name) == 0 then
  local count = #part / W
  if tonumber(redis.call('HGET', KEYS[1], 'n') or '0') + count > tonumber(ARGV[5]) then return 0 end
  redis.call('HSET', KEYS[1], name, part)
  redis.call('HINCRBY', KEYS[1], 'n', count)
end
redis.call('ZADD', KEYS[2], 0, name)
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1`;

/** ARGV the parts' names: each out of the hash (its entries off `n`) and the directory. */
const DROP = `
for _, name in ipairs(ARGV) do
  local part = redis.call('HGET', KEYS[1], name)
  if part then
    -- Not for an empty part: -(0) is -0, which Redis before 7.2 sends as "-0" and HINCRBY refuses.
    if #part > 0 then redis.call('HINCRBY', KEYS[1], 'n', 0 - #part / ${WIDTH}) end
    redis.call('HDEL', KEYS[1], name)
  end
  redis.call('ZREM', KEYS[2], name)
end
return 1`;

const scripts = {
  read: new RedisScript('fsvTimelinePartsRead', 2, READ),
  write: new RedisScript('fsvTimelinePartsWrite', 2, WRITE),
  drop: new RedisScript('fsvTimelinePartsDrop', 2, DROP),
};

/** Ids and ms below this fit a key's 15 digits (a bigger cursor is not answered from parts). */
export const PART_KEY_LIMIT = 1e15;

/** An entry's key (or a cursor's: id 0 = before every video of that millisecond). */
export const partKey = (time: number, id: number): string =>
  String(time).padStart(WIDTH / 2, '0') + indexMember(id);

const fromKey = (key: string): IndexEntry => ({
  time: Number(key.slice(0, WIDTH / 2)),
  id: Number(key.slice(WIDTH / 2)),
});

export type PartsRead =
  { kind: 'ok'; token: string; parts: string[]; entries: IndexEntry[] } | { kind: 'miss'; token: string };

function keysOf(viewerId: number, prefix: string): string[] {
  return [prefix + CacheKeys.timelineParts(viewerId), prefix + CacheKeys.timelinePartsDir(viewerId)];
}

/** The page's entries (`take`, or all down to the first video) from the parts; undefined when Redis cannot say. */
export async function readParts(
  store: CacheStore,
  viewerId: number,
  take: number,
  latestTime: number,
  idBefore: number,
): Promise<PartsRead | undefined> {
  const raw = await store.withRedis(
    (redis, prefix) =>
      scripts.read.run(redis, keysOf(viewerId, prefix), [
        partKey(latestTime, idBefore),
        take,
        randomUUID(),
        TIMELINE_PARTS_TTL_MS,
      ]),
    true,
  );
  if (!Array.isArray(raw)) return undefined;
  const reply = raw as string[];
  if (reply[0] !== 'ok') return { kind: 'miss', token: reply[1] ?? '' };
  const used = Number(reply[2]);
  return {
    kind: 'ok',
    token: reply[1] ?? '',
    parts: reply.slice(3, 3 + used),
    entries: reply.slice(3 + used).map(fromKey),
  };
}

/**
 * A part: every followed video strictly below the cursor down to the last of `entries` (newest
 * first), or down to the first video when `toFirst`. False when refused or Redis cannot say.
 */
export async function writePart(
  store: CacheStore,
  viewerId: number,
  token: string,
  latestTime: number,
  idBefore: number,
  entries: IndexEntry[],
  toFirst: boolean,
  maxEntries: number,
): Promise<boolean> {
  const last = entries[entries.length - 1];
  if (!toFirst && last === undefined) return false;
  const low = toFirst || last === undefined ? '' : partKey(last.time, last.id);
  const written = await store.withRedis((redis, prefix) =>
    scripts.write.run(redis, keysOf(viewerId, prefix), [
      token,
      partKey(latestTime, idBefore),
      low,
      entries.map((e) => partKey(e.time, e.id)).join(''),
      maxEntries,
    ]),
  );
  return written === 1;
}

/** Parts a page found a gone video in: dropped (loaded again on the next page that needs them). */
export async function dropParts(store: CacheStore, viewerId: number, parts: string[]): Promise<void> {
  if (parts.length === 0) return;
  await store.withRedis((redis, prefix) => scripts.drop.run(redis, keysOf(viewerId, prefix), parts));
}
