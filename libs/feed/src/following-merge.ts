import { CacheKeys, CacheStore, indexMember, IndexEntry, RedisScript } from '@app/cache';

/**
 * A following page past the viewer's timeline, merged in Redis from the followed authors' time
 * indexes (`AuthorIndex` in libs/video), in one script call:
 *
 * KEYS[1] the timeline's meta, KEYS[2] its follow set (the accounts followed when its build
 * began; a follow or unfollow drops both before it answers). ARGV[1] the cursor's ms ('0' = first
 * page), ARGV[2] its id as a member ('' = strictly before the ms), ARGV[3] how many, ARGV[4] the
 * most follows merged, ARGV[5..7] the author index keys' head (with the store's prefix) and the
 * tails of its sorted set and meta, ARGV[8..] authors whose index this process may not trust.
 *
 * Per author, the newest ARGV[3] entries past the cursor (as a page of one index is read), only
 * those at or above the newest ARGV[3] kept so far (nothing older can make the page); the newest
 * ARGV[3] of all are kept. Exact when every author's part is: it gave ARGV[3] entries, or its
 * index holds all its videos (no floor), or the page is full and ends at or above its floor (the
 * index holds every video of the author at or above it, and every one above the bound it was read
 * with: the bound only rises, so it is at or below the page's end).
 *
 * Returns {'ok', member, score, author, …}; {'none'} (no timeline: the caller builds it);
 * {'miss', author, …} (their indexes are missing: built by the caller); {'many'} (more follows
 * than ARGV[4]); {'no'} (a timeline that builds, an index that builds or is distrusted, or a part
 * not provably complete).
 *
 * The author keys are named from the set's members, not passed as KEYS: one server only (on a
 * Redis Cluster they live on many nodes, and the caller does not merge).
 */
const MERGE = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'none'} end
if state ~= 'ready' then return {'no'} end
local n = redis.call('SCARD', KEYS[2])
if n == 0 then return {'no'} end
if n - 1 > tonumber(ARGV[4]) then return {'many'} end
local distrusted = {}
for i = 8, #ARGV do distrusted[ARGV[i]] = true end
local take = tonumber(ARGV[3])
local cursor = tonumber(ARGV[1])
-- The newest ARGV[3] so far, newest first: {score, member, score as sent, author}.
local top = {}
local function newer(x, y)
  if x[1] ~= y[1] then return x[1] > y[1] end
  return x[2] > y[2]
end
local function insert(e)
  local last = #top
  if last >= take then
    if not newer(e, top[last]) then return end
    top[last] = nil
    last = last - 1
  end
  local i = last
  while i >= 1 and newer(e, top[i]) do
    top[i + 1] = top[i]
    i = i - 1
  end
  top[i + 1] = e
end
local floors = {}
local missing = {}
for _, a in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if a ~= '0' then
    if distrusted[a] then return {'no'} end
    local meta = redis.call('HMGET', ARGV[5] .. a .. ARGV[7], 'state', 'floor')
    if not meta[1] then
      missing[#missing + 1] = a
    elseif meta[1] ~= 'ready' then
      return {'no'}
    elseif #missing == 0 then
      local z = ARGV[5] .. a .. ARGV[6]
      -- Nothing older than the current take-th can make the page: read only what is newer.
      local min = '-inf'
      if #top >= take then min = top[take][3] end
      -- From the cursor's ms (inclusive when it has an id: its ties below that id come first
      -- after those at or above it, which are skipped); again past them only when they filled the reply.
      local high = '+inf'
      if ARGV[1] ~= '0' then
        high = ARGV[1]
        if ARGV[2] == '' then high = '(' .. ARGV[1] end
      end
      local got = 0
      local offset = 0
      while got < take do
        local want = take - got
        local list = redis.call('ZREVRANGEBYSCORE', z, high, min, 'WITHSCORES', 'LIMIT', offset, want)
        for i = 1, #list, 2 do
          local score = tonumber(list[i + 1])
          if ARGV[2] == '' or score ~= cursor or list[i] < ARGV[2] then
            insert({score, list[i], list[i + 1], a})
            got = got + 1
          end
        end
        if #list < 2 * want then break end
        offset = offset + want
      end
      -- Fewer than take past the cursor (and above the bound): exact only down to its floor.
      if got < take and meta[2] and meta[2] ~= '' then floors[#floors + 1] = meta[2] end
    end
  end
end
if #missing > 0 then return {'miss', unpack(missing)} end
if #floors > 0 then
  if #top < take then return {'no'} end
  local last = top[take]
  for _, f in ipairs(floors) do
    local sep = string.find(f, ':', 1, true)
    local fs = tonumber(string.sub(f, 1, sep - 1))
    if last[1] < fs or (last[1] == fs and last[2] < string.sub(f, sep + 1)) then return {'no'} end
  end
end
local out = {'ok'}
for i = 1, #top do
  out[#out + 1] = top[i][2]
  out[#out + 1] = top[i][3]
  out[#out + 1] = top[i][4]
end
return out`;

const mergeScript = new RedisScript('fsvFollowingMerge', 2, MERGE);

export type MergedPage =
  | { kind: 'ok'; entries: (IndexEntry & { authorId: number })[] }
  | { kind: 'miss'; authors: number[] }
  | { kind: 'none' }
  | { kind: 'many' }
  | { kind: 'no' };

/**
 * {@link MERGE} for the timeline whose meta and follow set are `timelineMeta` and `followSet`
 * (unprefixed); undefined when Redis cannot say, or on a Redis Cluster (never merged there).
 */
export async function mergeFollowed(
  store: CacheStore,
  timelineMeta: string,
  followSet: string,
  take: number,
  latestTime: number,
  idBefore: number,
  maxFollows: number,
  distrusted: readonly string[],
): Promise<MergedPage | undefined> {
  const { head, zTail, metaTail } = CacheKeys.authorTimeIndexParts();
  const raw = await store.withRedis(
    async (redis, prefix) =>
      redis.isCluster
        ? undefined
        : mergeScript.run(
            redis,
            [prefix + timelineMeta, prefix + followSet],
            [
              latestTime > 0 ? latestTime : 0,
              latestTime > 0 && idBefore > 0 ? indexMember(idBefore) : '',
              take,
              maxFollows,
              prefix + head,
              zTail,
              metaTail,
              ...distrusted,
            ],
          ),
    true,
  );
  if (!Array.isArray(raw)) return undefined;
  const reply = raw as string[];
  switch (reply[0]) {
    case 'ok': {
      const entries: (IndexEntry & { authorId: number })[] = [];
      for (let i = 1; i + 2 < reply.length; i += 3) {
        entries.push({ id: Number(reply[i]), time: Number(reply[i + 1]), authorId: Number(reply[i + 2]) });
      }
      return { kind: 'ok', entries };
    }
    case 'miss':
      return { kind: 'miss', authors: reply.slice(1).map(Number) };
    case 'none':
      return { kind: 'none' };
    case 'many':
      return { kind: 'many' };
    default:
      return { kind: 'no' };
  }
}
