import { boundedKey, MAX_KEY_LENGTH } from './bounded-key';
import { MemoryCacheStore } from './memory-cache.store';

describe('MemoryCacheStore', () => {
  let store: MemoryCacheStore;

  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2024-01-01T00:00:00.000Z') });
    store = new MemoryCacheStore();
  });

  afterEach(async () => {
    await store.close();
    jest.useRealTimers();
  });

  it('is the in-process store and reports itself disabled', () => {
    expect(store.kind).toBe('memory');
    expect(store.state()).toBe('disabled');
  });

  describe('get / set / TTL', () => {
    it('misses an unknown key', async () => {
      await expect(store.get('nope')).resolves.toBeNull();
    });

    it('returns what was set, until the TTL has passed', async () => {
      await expect(store.set('k', 'v', 1000)).resolves.toBe(true);
      await expect(store.get('k')).resolves.toBe('v');
      jest.advanceTimersByTime(999);
      await expect(store.get('k')).resolves.toBe('v');
      jest.advanceTimersByTime(1);
      await expect(store.get('k')).resolves.toBeNull();
    });

    it('overwrites the value and the TTL', async () => {
      await store.set('k', 'a', 100);
      await store.set('k', 'b', 5000);
      jest.advanceTimersByTime(1000);
      await expect(store.get('k')).resolves.toBe('b');
    });

    it('mget answers in key order with null for misses and expired keys', async () => {
      await store.set('a', '1', 1000);
      await store.set('b', '2', 100);
      jest.advanceTimersByTime(100);
      await expect(store.mget(['a', 'b', 'c'])).resolves.toEqual(['1', null, null]);
      await expect(store.mget([])).resolves.toEqual([]);
    });

    it('del removes every key given', async () => {
      await store.set('a', '1', 1000);
      await store.set('b', '2', 1000);
      await store.set('c', '3', 1000);
      await expect(store.del('a', 'b', 'missing')).resolves.toBe(true);
      await expect(store.mget(['a', 'b', 'c'])).resolves.toEqual([null, null, '3']);
    });
  });

  describe('setNx', () => {
    it('sets an absent key and refuses a present one, keeping the first value', async () => {
      await expect(store.setNx('lock', 'one', 1000)).resolves.toBe(true);
      await expect(store.setNx('lock', 'two', 1000)).resolves.toBe(false);
      await expect(store.get('lock')).resolves.toBe('one');
    });

    it('succeeds again once the holder has expired, with its own TTL', async () => {
      await store.setNx('lock', 'one', 1000);
      jest.advanceTimersByTime(1000);
      await expect(store.setNx('lock', 'two', 500)).resolves.toBe(true);
      await expect(store.get('lock')).resolves.toBe('two');
      jest.advanceTimersByTime(500);
      await expect(store.get('lock')).resolves.toBeNull();
    });

    it('never answers null (the store is always available)', async () => {
      await expect(store.setNx('k', 'v', 10)).resolves.not.toBeNull();
    });
  });

  describe('delIfEquals', () => {
    it('deletes the key while it still holds the value', async () => {
      await store.set('lock', 'mine', 1000);
      await store.delIfEquals('lock', 'mine');
      await expect(store.get('lock')).resolves.toBeNull();
    });

    it('leaves a key that holds another value (someone else took the lock)', async () => {
      await store.set('lock', 'theirs', 1000);
      await store.delIfEquals('lock', 'mine');
      await expect(store.get('lock')).resolves.toBe('theirs');
    });

    it('is harmless on a missing key', async () => {
      await expect(store.delIfEquals('none', 'x')).resolves.toBe(true);
      await expect(store.get('none')).resolves.toBeNull();
    });
  });

  describe('replaceIfEquals', () => {
    it('sets the value and TTL while the key holds the expected value', async () => {
      await store.set('k', 'marker-1', 1000);
      await expect(store.replaceIfEquals('k', 'marker-1', 'fresh', 5000)).resolves.toBe(true);
      await expect(store.get('k')).resolves.toBe('fresh');
    });

    it('refuses when the key holds another value, or none', async () => {
      await store.set('k', 'marker-2', 1000);
      await expect(store.replaceIfEquals('k', 'marker-1', 'stale', 5000)).resolves.toBe(false);
      await expect(store.get('k')).resolves.toBe('marker-2');
      await expect(store.replaceIfEquals('none', 'marker-1', 'stale', 5000)).resolves.toBe(false);
      await expect(store.get('none')).resolves.toBeNull();
    });
  });

  describe('markChanged / changeStamps / fillIfUnchanged', () => {
    it('a fill lands while the stamp read before its load is unchanged and the key absent', async () => {
      const [stamp] = await store.changeStamps(['d']);
      expect(stamp).toBeNull();
      await expect(store.fillIfUnchanged('d', stamp, 'row', 5000)).resolves.toBe(true);
      await expect(store.get('d')).resolves.toBe('row');
      await expect(store.fillIfUnchanged('d', stamp, 'other', 5000)).resolves.toBe(false);
      await expect(store.get('d')).resolves.toBe('row');
    });

    it('a change deletes the key and refuses fills whose stamp predates it', async () => {
      await store.set('d', 'row', 5000);
      const [before] = await store.changeStamps(['d']);
      await store.markChanged('d', 30_000);
      await expect(store.get('d')).resolves.toBeNull();
      await expect(store.fillIfUnchanged('d', before, 'old row', 5000)).resolves.toBe(false);
      await expect(store.get('d')).resolves.toBeNull();
      const [after] = await store.changeStamps(['d']);
      expect(after).not.toBeNull();
      expect(after).not.toBe(before);
      await expect(store.fillIfUnchanged('d', after, 'new row', 5000)).resolves.toBe(true);
      await expect(store.get('d')).resolves.toBe('new row');
    });

    it('a change sets the SET it carries (the video-list generation) at once, for its TTL', async () => {
      await store.set('d', 'row', 5000);
      await store.markChanged('d', 30_000, undefined, { key: 'gen', value: 'g1', ttlMs: 2000 });
      await expect(store.mget(['d', 'gen'])).resolves.toEqual([null, 'g1']);
      jest.advanceTimersByTime(2001);
      await expect(store.get('gen')).resolves.toBeNull();
    });

    it('with a mark, the key holds it instead; the stamp expires with its TTL', async () => {
      await store.markChanged('d', 1000, { value: 'mark', ttlMs: 500 });
      await expect(store.get('d')).resolves.toBe('mark');
      jest.advanceTimersByTime(1001);
      await expect(store.changeStamps(['d'])).resolves.toEqual([null]);
    });
  });

  describe('hit', () => {
    it('counts hits within a window and reports the ms left in it', async () => {
      await expect(store.hit('rl', 60_000)).resolves.toEqual({ count: 1, ttlMs: 60_000 });
      jest.advanceTimersByTime(15_000);
      await expect(store.hit('rl', 60_000)).resolves.toEqual({ count: 2, ttlMs: 45_000 });
      jest.advanceTimersByTime(40_000);
      await expect(store.hit('rl', 60_000)).resolves.toEqual({ count: 3, ttlMs: 5_000 });
    });

    it('a later hit does not extend the window (fixed window, not sliding)', async () => {
      await store.hit('rl', 1000);
      jest.advanceTimersByTime(900);
      await store.hit('rl', 1000);
      jest.advanceTimersByTime(100);
      await expect(store.get('rl')).resolves.toBeNull();
    });

    it('starts a fresh window once the old one has expired', async () => {
      await store.hit('rl', 1000);
      await store.hit('rl', 1000);
      jest.advanceTimersByTime(1000);
      await expect(store.hit('rl', 1000)).resolves.toEqual({ count: 1, ttlMs: 1000 });
    });

    it('keeps separate counters per key', async () => {
      await store.hit('a', 1000);
      await store.hit('a', 1000);
      await expect(store.hit('b', 1000)).resolves.toEqual({ count: 1, ttlMs: 1000 });
      await expect(store.get('a')).resolves.toBe('2');
    });
  });

  describe('pexpire', () => {
    it('resets the TTL of a live key', async () => {
      await store.set('k', 'v', 100);
      await expect(store.pexpire('k', 5000)).resolves.toBe(true);
      jest.advanceTimersByTime(4999);
      await expect(store.get('k')).resolves.toBe('v');
      jest.advanceTimersByTime(1);
      await expect(store.get('k')).resolves.toBeNull();
    });

    it('can shorten the TTL', async () => {
      await store.set('k', 'v', 60_000);
      await store.pexpire('k', 10);
      jest.advanceTimersByTime(10);
      await expect(store.get('k')).resolves.toBeNull();
    });

    it('answers false for a missing or expired key and does not create it', async () => {
      await expect(store.pexpire('none', 1000)).resolves.toBe(false);
      await store.set('k', 'v', 100);
      jest.advanceTimersByTime(100);
      await expect(store.pexpire('k', 1000)).resolves.toBe(false);
      await expect(store.get('k')).resolves.toBeNull();
      await expect(store.get('none')).resolves.toBeNull();
    });
  });

  describe('eviction bound', () => {
    it('never holds more than maxEntries: the oldest insertion goes first', async () => {
      const small = new MemoryCacheStore(3);
      try {
        await small.set('a', '1', 60_000);
        await small.set('b', '2', 60_000);
        await small.set('c', '3', 60_000);
        await small.set('d', '4', 60_000);
        await expect(small.mget(['a', 'b', 'c', 'd'])).resolves.toEqual([null, '2', '3', '4']);
        await small.setNx('e', '5', 60_000);
        await expect(small.mget(['b', 'c', 'd', 'e'])).resolves.toEqual([null, '3', '4', '5']);
        await small.hit('f', 60_000);
        await expect(small.mget(['c', 'd', 'e', 'f'])).resolves.toEqual([null, '4', '5', '1']);
      } finally {
        await small.close();
      }
    });

    it('overwriting a present key at capacity evicts nothing', async () => {
      const small = new MemoryCacheStore(2);
      try {
        await small.set('a', '1', 60_000);
        await small.set('b', '2', 60_000);
        await small.set('a', '1b', 60_000);
        await expect(small.mget(['a', 'b'])).resolves.toEqual(['1b', '2']);
      } finally {
        await small.close();
      }
    });

    it('the periodic sweep frees expired entries so live ones are not evicted', async () => {
      const small = new MemoryCacheStore(2);
      try {
        await small.set('long', 'L', 60_000);
        await small.set('short', 'S', 100);
        jest.advanceTimersByTime(10_000); // sweeper runs every 10 s
        await small.set('new', 'N', 60_000);
        await expect(small.mget(['long', 'new'])).resolves.toEqual(['L', 'N']);
      } finally {
        await small.close();
      }
    });
  });

  describe('least recently used eviction (rate-limit fallback, issue 12 #1)', () => {
    it('a read or a hit keeps a key: the least recently used one goes first', async () => {
      const small = new MemoryCacheStore(3);
      try {
        await small.hit('hot', 60_000);
        await small.set('b', '2', 60_000);
        await small.set('c', '3', 60_000);
        await small.hit('hot', 60_000); // b, c, hot
        await small.set('d', '4', 60_000); // evicts b: c, hot, d
        await small.get('c'); // hot, d, c
        await small.hit('hot', 60_000); // d, c, hot
        await small.set('e', '5', 60_000); // evicts d: c, hot, e
        await expect(small.mget(['b', 'd', 'c', 'e'])).resolves.toEqual([null, null, '3', '5']);
        await expect(small.hit('hot', 60_000)).resolves.toEqual({ count: 4, ttlMs: 60_000 });
      } finally {
        await small.close();
      }
    });

    it('a flood of new keys never resets a counter that keeps being hit', async () => {
      const small = new MemoryCacheStore(100);
      try {
        for (let i = 0; i < 10_000; i++) {
          await small.hit(`flood-${i}`, 60_000);
          if (i % 50 === 0) await small.hit('victim', 60_000);
        }
        expect(small.size).toBeLessThanOrEqual(100);
        await expect(small.hit('victim', 60_000)).resolves.toMatchObject({ count: 201 });
      } finally {
        await small.close();
      }
    });
  });

  describe('unhit', () => {
    it('takes one hit back without touching the window, and never creates a key', async () => {
      await store.hit('rl', 60_000);
      await store.hit('rl', 60_000);
      jest.advanceTimersByTime(10_000);
      await expect(store.unhit('rl')).resolves.toBe(true);
      await expect(store.hit('rl', 60_000)).resolves.toEqual({ count: 2, ttlMs: 50_000 });
      await store.unhit('none');
      await expect(store.get('none')).resolves.toBeNull();
    });

    it('stops at zero', async () => {
      await store.hit('rl', 60_000);
      await store.unhit('rl');
      await store.unhit('rl');
      await expect(store.get('rl')).resolves.toBe('0');
    });
  });

  it('caps key length: a 1 MiB key is stored under a short digest, still distinct', async () => {
    const a = 'k'.repeat(1 << 20);
    const b = `${'k'.repeat((1 << 20) - 1)}j`;
    await store.set(a, 'A', 60_000);
    await store.set(b, 'B', 60_000);
    await expect(store.mget([a, b])).resolves.toEqual(['A', 'B']);
    expect(boundedKey(a).length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
    expect(boundedKey('short')).toBe('short');
  });

  it('withRedis resolves undefined without calling the op', async () => {
    const op = jest.fn(() => Promise.resolve('never'));
    await expect(store.withRedis(op)).resolves.toBeUndefined();
    expect(op).not.toHaveBeenCalled();
  });

  it('ready resolves at once', async () => {
    await expect(store.ready(1000)).resolves.toBeUndefined();
  });

  it('close empties the store and stops the sweeper', async () => {
    const s = new MemoryCacheStore();
    await s.set('k', 'v', 60_000);
    const before = jest.getTimerCount();
    await s.close();
    expect(jest.getTimerCount()).toBe(before - 1);
    await expect(s.get('k')).resolves.toBeNull();
  });
});
