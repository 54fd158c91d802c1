/**
 * The hot list's running window (SPEC §5, §6): one sorted set holding, per video, the sum of its
 * minute buckets from the window's low minute on, encoded as the snapshots are (sum × 2^32 + id),
 * so the current minute's snapshot is a copy of it instead of a union of 60 buckets. Every bucket
 * increment adds to it in the same script; the hot list subtracts the buckets that leave the
 * window when it rolls it to the current minute.
 */

/** Encoded score = window sum × 2^32 + video id, so equal sums order by id, highest first. */
export const HOT_ID_SPACE = 4294967296;

/** The window's own last member (score 0): it keeps the set from emptying, and marks a snapshot as built. */
export const HOT_SENTINEL = '0';

/**
 * Lua: `hotWindowAdd(window, delta, member)` adds `delta` (a number) to the member's sum, keeping
 * the id in the low bits; a sum back at 0 leaves the set. Members that are not plain ids (1 to
 * 2^32 - 1) are never in the window, as they were never in a snapshot. A sum below 1 stays in the
 * set (a later like may bring it back) and is cut from every snapshot copied from it.
 */
export const HOT_WINDOW_ADD_LUA = `
local function hotWindowAdd(win, delta, member)
  if not string.match(member, '^[1-9]%d*$') then return end
  local id = tonumber(member)
  if id >= ${HOT_ID_SPACE} or delta == 0 then return end
  if redis.call('ZSCORE', win, member) then
    local s = tonumber(redis.call('ZINCRBY', win, string.format('%.0f', delta * ${HOT_ID_SPACE}), member))
    if s == id then redis.call('ZREM', win, member) end
  else
    redis.call('ZADD', win, string.format('%.0f', delta * ${HOT_ID_SPACE} + id), member)
  end
end
`;
