import { beginCountBuild, markCounts, RedisCacheStore, RedisScript } from '@app/cache';
import { closeRedisStore, openRedisStore } from '../helpers/test-env';
// Its scripts (the stream cap's) are created when the module loads, as in the api.
import '../../apps/api/src/notification/stream-cap';

/**
 * Lua scripts on the store's client (libs/cache/src/redis-script.ts). With auto-pipelining
 * (which the store used until it batched its own writes, batched-writes.ts), ioredis copies a
 * client's scripts into a pipeline when it opens one; a script defined while a pipeline of the
 * same tick is open is missing from it, and ioredis then ends the process with an uncaught
 * `results[i] is not iterable` (ioredis #1931): the api died under the first load that built an
 * author index. Scripts are now defined when the client is created, and a later one runs as EVAL.
 */
describe("Redis scripts on the store's client", () => {
  const prefix = `fsv:scripts:${process.pid}:`;
  let store: RedisCacheStore;

  beforeAll(async () => {
    store = await openRedisStore(prefix);
  });
  afterAll(() => closeRedisStore(store, prefix));

  it('the scripts that exist when a client is created are defined on it before it sends anything', async () => {
    const defined = await store.withRedis(async (redis) => {
      const r = redis as unknown as Record<string, unknown>;
      return [
        'fsvTimelineBegin',
        'fsvTimelineFinish',
        'fsvTimelinePush',
        'fsvTimelineRead',
        'fsvStreamReserve',
        'fsvStreamHeartbeat',
      ].map((name) => typeof r[name]);
    });
    expect(defined).toEqual(['function', 'function', 'function', 'function', 'function', 'function']);
  });

  it('a script first run in a tick whose pipeline is already open answers, and so do the other commands', async () => {
    const late = new RedisScript('fsvTestLate', 1, "return redis.call('INCR', KEYS[1])");
    const results = await store.withRedis((redis, p) => {
      // One tick: a GET opens the auto-pipeline, then the script nobody defined on this client.
      const get = redis.get(`${p}late:a`);
      const first = late.run(redis, [`${p}late:n`], []);
      const second = late.run(redis, [`${p}late:n`], []);
      const set = redis.set(`${p}late:b`, 'x');
      return Promise.all([get, first, second, set]);
    });
    expect(results).toEqual([null, 1, 2, 'OK']);
  });

  it("a rebuild's lock with a second look, and its fill with the lock's release, each one script", async () => {
    const key = 'rebuild:page';
    const lock = `lock:${key}`;
    expect(await store.lockAndPeek(lock, 'tok-a', 2000, key)).toEqual({ got: true, value: null });
    // Held: another rebuild neither takes it nor reads through it.
    expect(await store.lockAndPeek(lock, 'tok-b', 2000, key)).toEqual({ got: false, value: null });
    expect(await store.withRedis((redis, p) => redis.pttl(`${p}${lock}`))).toBeGreaterThan(1000);
    // A fill by someone who no longer holds the lock leaves the holder's lock alone.
    expect(await store.setAndUnlock(key, 'stale', 5000, lock, 'tok-b')).toBe(true);
    expect(await store.get(lock)).toBe('tok-a');
    expect(await store.setAndUnlock(key, 'page', 5000, lock, 'tok-a')).toBe(true);
    expect(await store.get(lock)).toBeNull();
    expect(await store.get(key)).toBe('page');
    expect(await store.withRedis((redis, p) => redis.pttl(`${p}${key}`))).toBeGreaterThan(4000);
    // Filled since the miss: the lock is taken and the value is seen in the same step.
    expect(await store.lockAndPeek(lock, 'tok-c', 2000, key)).toEqual({ got: true, value: 'page' });
    expect(await store.delIfEquals(lock, 'tok-c')).toBe(true);
    expect(await store.get(lock)).toBeNull();
    // A fill Redis refuses (here an invalid expiry) answers false and still releases the lock.
    expect(await store.lockAndPeek(lock, 'tok-d', 2000, 'rebuild:other')).toEqual({ got: true, value: null });
    expect(await store.setAndUnlock('rebuild:other', 'page', 0, lock, 'tok-d')).toBe(false);
    expect(await store.get(lock)).toBeNull();
    expect(await store.get('rebuild:other')).toBeNull();
  });

  it("a guarded rebuild's fill lands only under the stamp it read, and releases the lock either way", async () => {
    const key = 'rebuild:detail';
    const lock = `lock:${key}`;
    const [before] = (await store.changeStamps([key])) ?? ['unread'];
    expect((await store.lockAndPeek(lock, 'tok-e', 2000, key)).got).toBe(true);
    // Changed after the stamp was read: the fill is refused, the lock released all the same.
    expect(await store.markChanged(key, 30_000)).toBe(true);
    expect(await store.fillIfUnchangedAndUnlock(key, before, 'old row', 5000, lock, 'tok-e')).toBe(true);
    expect(await store.get(key)).toBeNull();
    expect(await store.get(lock)).toBeNull();
    // Unchanged since the read: filled and released; a foreign token leaves the lock alone.
    const [now] = (await store.changeStamps([key])) ?? ['unread'];
    expect((await store.lockAndPeek(lock, 'tok-f', 2000, key)).got).toBe(true);
    expect(await store.fillIfUnchangedAndUnlock(key, now, 'new row', 5000, lock, 'tok-x')).toBe(true);
    expect(await store.get(lock)).toBe('tok-f');
    expect(await store.get(key)).toBe('new row');
    expect(await store.withRedis((redis, p) => redis.pttl(`${p}${key}`))).toBeGreaterThan(4000);
    // Already filled: not overwritten (NX), and the holder's release goes through.
    expect(await store.fillIfUnchangedAndUnlock(key, now, 'other row', 5000, lock, 'tok-f')).toBe(true);
    expect(await store.get(key)).toBe('new row');
    expect(await store.get(lock)).toBeNull();
  });

  it('a change carries another SET in the same script (one server): the video-list generation lands with the mark', async () => {
    const key = 'also:detail';
    await store.set(key, 'old row', 5000);
    const [before] = (await store.changeStamps([key])) ?? ['unread'];
    const also = { key: 'also:gen', value: 'gen-1', ttlMs: 4000 };
    expect(await store.markChanged(key, 30_000, undefined, also)).toBe(true);
    expect(await store.get(key)).toBeNull();
    const [after] = (await store.changeStamps([key])) ?? ['unread'];
    expect(after).not.toBe(before);
    expect(await store.get('also:gen')).toBe('gen-1');
    const ttl = await store.withRedis((redis, p) => redis.pttl(`${p}also:gen`));
    expect(ttl).toBeGreaterThan(3000);
    expect(ttl).toBeLessThanOrEqual(4000);
    // With a mark instead of a delete, the same.
    expect(
      await store.markChanged(key, 30_000, { value: 'refill', ttlMs: 1000 }, { ...also, value: 'gen-2' }),
    ).toBe(true);
    expect(await store.mget([key, 'also:gen'])).toEqual(['refill', 'gen-2']);
  });

  it("the count index's marks carry another SET in the same script, with or without an index to mark", async () => {
    const keys = {
      z: 'also:{ci}:z',
      meta: 'also:{ci}:m',
      dirty: 'also:{ci}:d',
      tickets: 'also:{ci}:t',
      seq: 'also:{ci}:seq',
    };
    const also = { key: 'also:gen', value: 'gen-3', ttlMs: 4000 };
    // No index: nothing marked, the SET lands all the same.
    expect(await markCounts(store, keys, [7, 8], 100, also)).toBe(0);
    expect(await store.get('also:gen')).toBe('gen-3');
    // An index being built: marked, and the SET with it.
    expect(await beginCountBuild(store, keys, 'tok', 5000)).toBeGreaterThan(0);
    expect(await markCounts(store, keys, [7], 100, { ...also, value: 'gen-4' })).toBe(1);
    expect(await store.get('also:gen')).toBe('gen-4');
    expect(await store.withRedis((redis, p) => redis.zcard(`${p}${keys.dirty}`))).toBe(1);
  });

  it("a page's missing items are filled together, each only under the stamp it read and only where absent", async () => {
    const keys = ['many:1', 'many:2', 'many:3', 'many:4'];
    await store.set('many:4', 'cached meanwhile', 5000);
    const stamps = (await store.changeStamps(keys)) ?? [];
    expect(stamps).toHaveLength(4);
    // many:2 changed after its stamp was read: its fill is refused, the others land (many:4 kept).
    expect(await store.markChanged('many:2', 30_000)).toBe(true);
    await store.fillManyIfUnchanged(
      keys.map((key, i) => ({ key, stamp: stamps[i], value: `row ${i + 1}` })),
      5000,
    );
    expect(await store.mget(keys)).toEqual(['row 1', null, 'row 3', 'cached meanwhile']);
    expect(await store.withRedis((redis, p) => redis.pttl(`${p}many:3`))).toBeGreaterThan(4000);
  });

  it("a page's entries and their change stamps in one read: a fill under a stamp read with them is refused after a change", async () => {
    const keys = ['both:1', 'both:2', 'both:3'];
    await store.set('both:1', 'cached', 5000);
    expect(await store.markChanged('both:3', 30_000)).toBe(true);
    const [stamp3] = (await store.changeStamps(['both:3'])) ?? ['unread'];
    expect(stamp3).not.toBeNull();
    const read = await store.mgetWithStamps(keys);
    expect(read.values).toEqual(['cached', null, null]);
    // Each key's stamp, by position: none yet for both:2, both:3's own.
    expect(read.stamps?.slice(1)).toEqual([null, stamp3]);
    // both:2 changes after the read: its fill is refused; both:3's (unchanged since) lands.
    expect(await store.markChanged('both:2', 30_000)).toBe(true);
    await store.fillManyIfUnchanged(
      [
        { key: 'both:2', stamp: read.stamps?.[1] ?? null, value: 'old row 2' },
        { key: 'both:3', stamp: read.stamps?.[2] ?? null, value: 'row 3' },
      ],
      5000,
    );
    expect(await store.mget(keys)).toEqual(['cached', null, 'row 3']);
  });
});
