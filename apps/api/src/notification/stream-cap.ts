import { liveStreamsKey } from '@app/notification';
import { CacheStore, RedisScript } from '@app/cache';

/** SPEC §8.4: open streams per account, over every api process. */
export const MAX_STREAMS_PER_ACCOUNT = 5;
/** Each process re-registers its streams this often (with the keep-alives). */
export const HEARTBEAT_MS = 25_000;
/** A stream not re-registered for this long belongs to a process that is gone. */
const STALE_MS = 80_000;
const KEY_TTL_MS = 120_000;

/**
 * Registers `ARGV[2]` (opened now), forgets stale members, and returns the oldest members beyond
 * the cap (never the new one), which it moves to the evicted set. Members sort by age: they
 * start with their opening time, zero-padded.
 */
const RESERVE = new RedisScript(
  'fsvStreamReserve',
  2,
  `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[4]))
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local all = redis.call('ZRANGE', KEYS[1], 0, -1)
local over = #all - tonumber(ARGV[3])
local out = {}
if over <= 0 then return out end
table.sort(all)
for i = 1, #all do
  if #out >= over then break end
  if all[i] ~= ARGV[2] then
    out[#out + 1] = all[i]
    redis.call('ZREM', KEYS[1], all[i])
    redis.call('SADD', KEYS[2], all[i])
  end
end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return out`,
);

/**
 * Refreshes this process's members; returns those evicted meanwhile by another process. A member
 * that is simply missing (Redis restarted, or it was pruned as stale) is registered again.
 */
const HEARTBEAT = new RedisScript(
  'fsvStreamHeartbeat',
  2,
  `
local gone = {}
for i = 3, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 1 then
    gone[#gone + 1] = ARGV[i]
  else
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return gone`,
);

const keys = (accountId: number): [string, string] => [
  liveStreamsKey(accountId),
  `notify:{${accountId}}:evicted`,
];

/**
 * The per-account stream cap across api processes, in Redis: a sorted set of the account's open
 * streams (scored by their last heartbeat) and a set of the ones evicted. Both keys of an account
 * share a hash tag, so the scripts run on Redis Cluster. Without Redis (or while it is down) each
 * method resolves null and the caller caps the streams of its own process only.
 */
export class StreamCap {
  constructor(private readonly cache: CacheStore) {}

  /** Registers a new stream; the streams to close (oldest first, any process), or null. */
  async reserve(accountId: number, member: string, now: number): Promise<string[] | null> {
    const out = await this.cache.withRedis((redis, prefix) => {
      const [set, evicted] = keys(accountId);
      return RESERVE.run(
        redis,
        [prefix + set, prefix + evicted],
        [String(now), member, String(MAX_STREAMS_PER_ACCOUNT), String(STALE_MS), String(KEY_TTL_MS)],
      );
    });
    return Array.isArray(out) ? out.map(String) : null;
  }

  async release(accountId: number, member: string): Promise<void> {
    await this.cache.withRedis((redis, prefix) => redis.zrem(prefix + keys(accountId)[0], member));
  }

  /** Refreshes the members this process holds; those evicted by another process meanwhile. */
  async heartbeat(accountId: number, members: string[], now: number): Promise<string[]> {
    if (members.length === 0) return [];
    const out = await this.cache.withRedis((redis, prefix) => {
      const [set, evicted] = keys(accountId);
      return HEARTBEAT.run(
        redis,
        [prefix + set, prefix + evicted],
        [String(now), String(KEY_TTL_MS), ...members],
      );
    });
    return Array.isArray(out) ? out.map(String) : [];
  }
}
