import { RedisCacheStore } from '@app/cache';
import type { Socket } from 'node:net';
import { TcpProxy } from '../helpers/tcp-proxy';
import { deleteRedisPrefix, REDIS_URL } from '../helpers/test-env';

/**
 * The store's own timeout (`REDIS_TIMEOUT_MS`): a call Redis does not answer in time gets its
 * fallback, and the breaker opens after three (RedisCacheStore.call: its own timeout bounds an
 * operation of several commands, each of which also has ioredis's `commandTimeout`; a read of one
 * command has only the command's).
 * Redis is taken away by a partition of a proxy of our own (the connection stays up, nothing
 * crosses it), so only the timeouts can answer.
 */
describe('Redis calls past their timeout', () => {
  const prefix = `fsv:timeouts:${process.pid}:`;
  const TIMEOUT = 200;
  /**
   * Headroom over the timeout for a slow, loaded host: a call bounded by the timeout answers well
   * within it; one that hangs (waits for the partition to heal) never does.
   */
  const SLACK = 1500;
  const target = new URL(REDIS_URL);
  let proxy: TcpProxy;
  let store: RedisCacheStore;

  beforeAll(async () => {
    proxy = new TcpProxy(target.hostname, Number(target.port || 6379));
    const port = await proxy.start();
    const url = new URL(REDIS_URL);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    store = new RedisCacheStore({ url: url.toString(), keyPrefix: prefix, timeoutMs: TIMEOUT });
    for (let i = 0; i < 50 && store.state() !== 'up'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(store.state()).toBe('up');
  });
  afterAll(async () => {
    proxy.heal();
    await deleteRedisPrefix(prefix);
    await store.close();
    await proxy.stop();
  });

  it('an operation of the store that never settles gets its fallback at the timeout, and later ones are not held up', async () => {
    const started = Date.now();
    // No command at all: only the store's own timeout can answer (ioredis's per command cannot).
    let stuckSettled = false;
    const stuck = store
      .withRedis(() => new Promise<string>(() => undefined))
      .finally(() => (stuckSettled = true));
    const quick = store.withRedis(async (redis, p) => redis.set(`${p}quick`, '1'));
    expect(await quick).toBe('OK');
    // Not held up: it answered while the stuck one still waited for its timeout.
    expect(stuckSettled).toBe(false);
    expect(await stuck).toBeUndefined();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(TIMEOUT - 5);
    expect(took).toBeLessThan(TIMEOUT + SLACK);
    // One failure: the circuit stays closed (it opens after three).
    expect(store.state()).toBe('up');
    expect(await store.get('quick')).toBe('1');
  });

  it('answers through the proxy, then each call unanswered in time gets its fallback, and the breaker opens', async () => {
    await store.set('k', 'v', 60_000);
    expect(await store.get('k')).toBe('v');
    expect(await store.mget(['k', 'none'])).toEqual(['v', null]);

    proxy.partition();
    const started = Date.now();
    // Several at once, as a request sends them: each answers its fallback at its timeout, the
    // reads of one command (no timer of the store's own) as well as an operation of several.
    const [a, b, c, d, e, f] = await Promise.all([
      store.get('k'),
      store.mget(['k']),
      store.withRedis((redis, p) => redis.smismember(`${p}set`, '1', '2'), true),
      store.withRedis((redis, p) => redis.get(`${p}k`), false, true),
      store.mgetWithStamps(['k']),
      store.withRedis(async (redis, p) => [await redis.get(`${p}k`), await redis.get(`${p}k`)]),
    ]);
    const took = Date.now() - started;
    expect([a, b, c, d, e, f]).toEqual([
      null,
      [null],
      undefined,
      undefined,
      { values: [null], stamps: undefined },
      undefined,
    ]);
    expect(took).toBeGreaterThanOrEqual(TIMEOUT - 5);
    expect(took).toBeLessThan(TIMEOUT + SLACK);
    // Three failures: the circuit is open, and a call answers its fallback at once: without
    // sending anything to Redis, and before any I/O or timer of this process could answer it.
    expect(store.state()).toBe('down');
    const socket = (store as unknown as { client: { stream: Socket } }).client.stream;
    const write = jest.spyOn(socket, 'write');
    try {
      const pending = Symbol('pending');
      const answer = await Promise.race([
        store.get('k'),
        new Promise<typeof pending>((r) => setImmediate(() => r(pending))),
      ]);
      expect(answer).toBeNull();
      expect(write).not.toHaveBeenCalled();
    } finally {
      write.mockRestore();
    }
  });

  it("the breaker's probe is a round trip: an operation that sends nothing does not close it while Redis is silent", async () => {
    // Still partitioned and open (above). Past the open window, the next call is the probe.
    expect(store.state()).toBe('down');
    await new Promise((r) => setTimeout(r, 1100));
    // An operation that needs no command (nothing to read, say) answers without Redis...
    expect(await store.withRedis(async () => 'nothing to send')).toBeUndefined();
    // ...and that is no sign that Redis answers: the circuit stays open.
    expect(store.state()).toBe('down');
    proxy.heal();
    await new Promise((r) => setTimeout(r, 1100));
    expect(await store.withRedis(async () => 'nothing to send')).toBe('nothing to send');
    expect(store.state()).toBe('up');
    // The partition held commands that the heal delivered: the key is still there.
    expect(await store.withRedis((redis, p) => redis.get(`${p}k`))).toBe('v');
  });
});
