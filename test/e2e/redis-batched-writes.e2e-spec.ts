import Redis from 'ioredis';
import type { RedisCacheStore } from '@app/cache';
import { closeRedisStore, openRedisStore } from '../helpers/test-env';

/**
 * The store's commands of one turn of the event loop leave in one write, without ioredis's
 * auto-pipelining (libs/cache/src/batched-writes.ts).
 */
describe("the Redis store's writes", () => {
  const prefix = `fsv:batched:${process.pid}:`;
  let store: RedisCacheStore;

  beforeAll(async () => {
    store = await openRedisStore(prefix);
  });
  afterAll(() => closeRedisStore(store, prefix));

  /** Counts the writes the client's socket hands to the system while `run` runs. */
  async function writesDuring<T>(
    redis: Redis,
    run: () => Promise<T>,
  ): Promise<{ result: T; writes: number }> {
    // The socket's two ways into the system (net.Socket's own methods, not in its types).
    const socket = redis.stream as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
    const one = jest.spyOn(socket, '_write');
    const many = jest.spyOn(socket, '_writev');
    try {
      const result = await run();
      return { result, writes: one.mock.calls.length + many.mock.calls.length };
    } finally {
      one.mockRestore();
      many.mockRestore();
    }
  }

  it('the commands of one turn leave in one write, in the order they were sent', async () => {
    const out = await store.withRedis((client, p) => {
      const redis = client as Redis;
      return writesDuring(redis, () =>
        Promise.all([
          ...Array.from({ length: 30 }, () => redis.incr(`${p}n`)),
          redis.set(`${p}s`, 'x'),
          redis.get(`${p}s`),
          redis.mget(`${p}n`, `${p}s`, `${p}none`),
        ]),
      );
    });
    expect(out?.result).toEqual([
      ...Array.from({ length: 30 }, (_, i) => i + 1),
      'OK',
      'x',
      ['30', 'x', null],
    ]);
    expect(out?.writes).toBe(1);
  });

  it('a command is not held past its turn: one write a turn, each answered', async () => {
    const out = await store.withRedis((client, p) => {
      const redis = client as Redis;
      return writesDuring(redis, async () => {
        const got: number[] = [];
        for (let i = 0; i < 5; i++) got.push(await redis.incr(`${p}turns`));
        return got;
      });
    });
    expect(out).toEqual({ result: [1, 2, 3, 4, 5], writes: 5 });
  });
});
