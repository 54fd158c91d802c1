import type Redis from 'ioredis';
import { CacheAside, CacheAsideOptions } from './cache-aside.service';
import { CacheMetrics } from './cache-metrics';
import { CacheStore, DependencyState } from './cache-store';

/** A hand-written in-memory CacheStore that records calls and can be told to misbehave. */
class FakeStore extends CacheStore {
  readonly kind = 'memory' as const;
  readonly data = new Map<string, string>();
  readonly calls: string[] = [];
  /** When set, setNx answers this instead of acting (null = store unavailable). */
  setNxOverride: boolean | null | undefined = undefined;
  /** Values `get` answers (once each) before consulting `data`. */
  readonly getQueue: (string | null)[] = [];

  state(): DependencyState {
    return 'disabled';
  }
  get(key: string): Promise<string | null> {
    this.calls.push(`get ${key}`);
    if (this.getQueue.length > 0) return Promise.resolve(this.getQueue.shift() ?? null);
    return Promise.resolve(this.data.get(key) ?? null);
  }
  mget(keys: string[]): Promise<(string | null)[]> {
    return Promise.resolve(keys.map((k) => this.data.get(k) ?? null));
  }
  set(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.calls.push(`set ${key} ${ttlMs}`);
    this.data.set(key, value);
    return Promise.resolve(true);
  }
  replaceIfEquals(key: string, expected: string, value: string, ttlMs: number): Promise<boolean> {
    this.calls.push(`replaceIfEquals ${key} ${ttlMs}`);
    if (this.data.get(key) !== expected) return Promise.resolve(false);
    this.data.set(key, value);
    return Promise.resolve(true);
  }

  readonly stamps = new Map<string, string>();
  markChanged(key: string): Promise<boolean> {
    this.stamps.set(key, String(Math.random()));
    this.data.delete(key);
    return Promise.resolve(true);
  }
  changeStamps(keys: string[]): Promise<(string | null)[]> {
    this.calls.push(`changeStamps ${keys.join(',')}`);
    return Promise.resolve(keys.map((k) => this.stamps.get(k) ?? null));
  }
  fillIfUnchanged(key: string, stamp: string | null, value: string, ttlMs: number): Promise<boolean> {
    this.calls.push(`fillIfUnchanged ${key} ${ttlMs}`);
    if ((this.stamps.get(key) ?? null) !== stamp || this.data.has(key)) return Promise.resolve(false);
    this.data.set(key, value);
    return Promise.resolve(true);
  }

  setNx(key: string, value: string, ttlMs: number): Promise<boolean | null> {
    this.calls.push(`setNx ${key} ${ttlMs}`);
    if (this.setNxOverride !== undefined) return Promise.resolve(this.setNxOverride);
    if (this.data.has(key)) return Promise.resolve(false);
    this.data.set(key, value);
    return Promise.resolve(true);
  }
  del(...keys: string[]): Promise<boolean> {
    this.calls.push(`del ${keys.join(',')}`);
    for (const k of keys) this.data.delete(k);
    return Promise.resolve(true);
  }
  delIfEquals(key: string, value: string): Promise<boolean> {
    this.calls.push(`delIfEquals ${key}`);
    if (this.data.get(key) === value) this.data.delete(key);
    return Promise.resolve(true);
  }
  hit(): Promise<{ count: number; ttlMs: number } | null> {
    return Promise.resolve(null);
  }
  pexpire(): Promise<boolean> {
    return Promise.resolve(false);
  }
  withRedis<T>(_op: (redis: Redis, prefix: string) => Promise<T>): Promise<T | undefined> {
    return Promise.resolve(undefined);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const KEY = 'video:detail:id=7';
const LOCK = `lock:${KEY}`;
const OPTS: CacheAsideOptions = { name: 'video', ttlMs: 300_000, lockTtlMs: 2000, waitMs: 500 };

describe('CacheAside', () => {
  let store: FakeStore;
  let metrics: CacheMetrics;
  let cache: CacheAside;

  beforeEach(() => {
    store = new FakeStore();
    metrics = new CacheMetrics();
    cache = new CacheAside(store, metrics);
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('a hit returns the cached text, counts a hit and never calls the loader', async () => {
    store.data.set(KEY, '{"id":7}');
    const load = jest.fn(() => Promise.resolve('fresh'));
    await expect(cache.getOrLoadRaw(KEY, OPTS, load)).resolves.toBe('{"id":7}');
    expect(load).not.toHaveBeenCalled();
    expect(metrics.hits.get('video')).toBe(1);
    expect(metrics.misses.get('video')).toBeUndefined();
    expect(store.calls.some((c) => c.startsWith('setNx'))).toBe(false);
  });

  it('a miss counts a miss, loads once under the lock, stores with the TTL and releases the lock', async () => {
    const load = jest.fn(() => Promise.resolve('{"id":7}'));
    await expect(cache.getOrLoadRaw(KEY, OPTS, load)).resolves.toBe('{"id":7}');
    expect(load).toHaveBeenCalledTimes(1);
    expect(metrics.misses.get('video')).toBe(1);
    expect(metrics.hits.get('video')).toBeUndefined();
    expect(store.data.get(KEY)).toBe('{"id":7}');
    expect(store.calls).toContain(`setNx ${LOCK} 2000`);
    expect(store.calls).toContain(`set ${KEY} 300000`);
    expect(store.calls).toContain(`delIfEquals ${LOCK}`);
    expect(store.data.has(LOCK)).toBe(false);

    // The next caller is a hit.
    await expect(cache.getOrLoadRaw(KEY, OPTS, load)).resolves.toBe('{"id":7}');
    expect(load).toHaveBeenCalledTimes(1);
    expect(metrics.hits.get('video')).toBe(1);
  });

  it('guarded: the stamp is read before the load; a change marked during the load refuses the fill', async () => {
    const gate = deferred<string>();
    const pending = cache.getOrLoadRaw(KEY, { ...OPTS, guarded: { stampTtlMs: 30_000 } }, () => gate.promise);
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(store.calls).toContain(`changeStamps ${KEY}`);
    await store.markChanged(KEY); // a change commits during the load
    gate.resolve('{"id":7,"old":true}');
    await expect(pending).resolves.toBe('{"id":7,"old":true}');
    expect(store.data.has(KEY)).toBe(false);
    // The next miss reads the new stamp and fills.
    await expect(
      cache.getOrLoadRaw(KEY, { ...OPTS, guarded: { stampTtlMs: 30_000 } }, () =>
        Promise.resolve('{"id":7}'),
      ),
    ).resolves.toBe('{"id":7}');
    expect(store.data.get(KEY)).toBe('{"id":7}');
    expect(store.calls).not.toContain(`set ${KEY} 300000`);
  });

  it('guarded: a load slower than the stamps live (less a margin) is not cached at all', async () => {
    jest.useFakeTimers();
    const slow = (): Promise<string> => new Promise((r) => setTimeout(() => r('{"id":7}'), 2500));
    const p = cache.getOrLoadRaw(KEY, { ...OPTS, guarded: { stampTtlMs: 3000 } }, slow);
    await jest.advanceTimersByTimeAsync(2600);
    await expect(p).resolves.toBe('{"id":7}');
    expect(store.data.has(KEY)).toBe(false);
    expect(store.calls.some((c) => c.startsWith('fillIfUnchanged'))).toBe(false);
  });

  it('ttlFor picks the fill TTL by value', async () => {
    await cache.getOrLoadRaw(KEY, { ...OPTS, ttlFor: (v) => (v === 'null' ? 5000 : 300_000) }, () =>
      Promise.resolve('null'),
    );
    expect(store.calls).toContain(`set ${KEY} 5000`);
  });

  it('uses a 2 s lock by default', async () => {
    await cache.getOrLoadRaw(KEY, { name: 'video', ttlMs: 5000 }, () => Promise.resolve('x'));
    expect(store.calls).toContain(`setNx ${LOCK} 2000`);
    expect(store.calls).toContain(`set ${KEY} 5000`);
  });

  it('200 concurrent callers on a cold key: the loader runs once and all get its value', async () => {
    const gate = deferred<string>();
    const load = jest.fn(() => gate.promise);
    const callers = Array.from({ length: 200 }, () => cache.getOrLoadRaw(KEY, OPTS, load));
    // Let every caller get past its cache read before the load finishes.
    for (let i = 0; i < 10; i++) await Promise.resolve();
    gate.resolve('{"id":7}');
    const results = await Promise.all(callers);
    expect(load).toHaveBeenCalledTimes(1);
    expect(results).toHaveLength(200);
    expect(new Set(results)).toEqual(new Set(['{"id":7}']));
    expect(store.calls.filter((c) => c.startsWith('setNx'))).toHaveLength(1);
    expect(store.calls.filter((c) => c.startsWith('set '))).toHaveLength(1);
  });

  it('callers arriving while a rebuild runs share it, even after it has started loading', async () => {
    const gate = deferred<string>();
    const load = jest.fn(() => gate.promise);
    const first = cache.getOrLoadRaw(KEY, OPTS, load);
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(load).toHaveBeenCalledTimes(1);
    const late = cache.getOrLoadRaw(KEY, OPTS, load);
    gate.resolve('v');
    await expect(Promise.all([first, late])).resolves.toEqual(['v', 'v']);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('different keys do not share a rebuild', async () => {
    const load = jest.fn((v: string) => Promise.resolve(v));
    const [a, b] = await Promise.all([
      cache.getOrLoadRaw('k:a', OPTS, () => load('A')),
      cache.getOrLoadRaw('k:b', OPTS, () => load('B')),
    ]);
    expect([a, b]).toEqual(['A', 'B']);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('lock lost: waits for the other process to fill, then reads it without loading', async () => {
    jest.useFakeTimers();
    store.data.set(LOCK, 'other-process');
    const load = jest.fn(() => Promise.resolve('from-db'));
    let settled: string | undefined;
    const p = cache.getOrLoadRaw(KEY, OPTS, load).then((v) => (settled = v));

    await jest.advanceTimersByTimeAsync(40);
    expect(settled).toBeUndefined();
    store.data.set(KEY, 'filled-by-other'); // the lock holder finishes
    await jest.advanceTimersByTimeAsync(60);
    await p;
    expect(settled).toBe('filled-by-other');
    expect(load).not.toHaveBeenCalled();
    // It never touched the other holder's lock.
    expect(store.data.get(LOCK)).toBe('other-process');
    expect(store.calls.some((c) => c.startsWith('delIfEquals'))).toBe(false);
  });

  it('lock released without a fill (it was refused): loads at once instead of waiting out waitMs', async () => {
    jest.useFakeTimers();
    store.data.set(LOCK, 'other-process');
    const load = jest.fn(() => Promise.resolve('from-db'));
    let settled: string | undefined;
    const p = cache.getOrLoadRaw(KEY, { ...OPTS, waitMs: 5000 }, load).then((v) => (settled = v));
    await jest.advanceTimersByTimeAsync(20);
    expect(settled).toBeUndefined();
    store.data.delete(LOCK); // the holder finished, its fill refused
    await jest.advanceTimersByTimeAsync(100);
    await p;
    expect(settled).toBe('from-db');
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('lock holder too slow: falls back to the loader after waitMs', async () => {
    jest.useFakeTimers();
    store.data.set(LOCK, 'other-process');
    const load = jest.fn(() => Promise.resolve('from-db'));
    let settled: string | undefined;
    const p = cache.getOrLoadRaw(KEY, { ...OPTS, waitMs: 200 }, load).then((v) => (settled = v));

    await jest.advanceTimersByTimeAsync(150);
    expect(load).not.toHaveBeenCalled();
    expect(settled).toBeUndefined();
    await jest.advanceTimersByTimeAsync(200);
    await p;
    expect(settled).toBe('from-db');
    expect(load).toHaveBeenCalledTimes(1);
    expect(store.data.get(LOCK)).toBe('other-process');
  });

  it('store unavailable (setNx answers null): still loads and returns, no lock release', async () => {
    store.setNxOverride = null;
    const load = jest.fn(() => Promise.resolve('from-db'));
    await expect(cache.getOrLoadRaw(KEY, OPTS, load)).resolves.toBe('from-db');
    expect(load).toHaveBeenCalledTimes(1);
    expect(store.calls.some((c) => c.startsWith('delIfEquals'))).toBe(false);
  });

  it('a fill that lands between the miss and the lock is read, not loaded again', async () => {
    store.getQueue.push(null, 'just-filled');
    const load = jest.fn(() => Promise.resolve('from-db'));
    await expect(cache.getOrLoadRaw(KEY, OPTS, load)).resolves.toBe('just-filled');
    expect(load).not.toHaveBeenCalled();
    expect(store.data.has(LOCK)).toBe(false);
  });

  it('a loader error reaches every waiting caller, releases the lock and is not cached', async () => {
    const gate = deferred<string>();
    const load = jest.fn(() => gate.promise);
    const a = cache.getOrLoadRaw(KEY, OPTS, load);
    const b = cache.getOrLoadRaw(KEY, OPTS, load);
    for (let i = 0; i < 10; i++) await Promise.resolve();
    gate.reject(new Error('db down'));
    await expect(a).rejects.toThrow('db down');
    await expect(b).rejects.toThrow('db down');
    expect(load).toHaveBeenCalledTimes(1);
    expect(store.calls).toContain(`delIfEquals ${LOCK}`);
    expect(store.data.has(LOCK)).toBe(false);
    expect(store.data.has(KEY)).toBe(false);

    // The failed rebuild is forgotten: the next caller loads again.
    const retry = jest.fn(() => Promise.resolve('ok'));
    await expect(cache.getOrLoadRaw(KEY, OPTS, retry)).resolves.toBe('ok');
    expect(retry).toHaveBeenCalledTimes(1);
  });

  it('getOrLoad round-trips JSON through the cache', async () => {
    const load = jest.fn(() => Promise.resolve({ id: 7, title: 't' }));
    await expect(cache.getOrLoad(KEY, OPTS, load)).resolves.toEqual({ id: 7, title: 't' });
    expect(store.data.get(KEY)).toBe('{"id":7,"title":"t"}');
    await expect(cache.getOrLoad(KEY, OPTS, load)).resolves.toEqual({ id: 7, title: 't' });
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('invalidate deletes the keys', async () => {
    store.data.set('a', '1');
    store.data.set('b', '2');
    await expect(cache.invalidate('a', 'b')).resolves.toBe(true);
    expect(store.data.size).toBe(0);
  });
});
