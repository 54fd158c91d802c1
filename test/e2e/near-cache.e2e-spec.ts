import { CacheMetrics, CacheStore, NearCache, RedisCacheStore } from '@app/cache';
import Redis from 'ioredis';
import { TcpProxy } from '../helpers/tcp-proxy';
import { startApp, startSibling, TestApp } from '../helpers/test-app';
import { deleteRedisPrefix, PROFILES, REDIS_URL } from '../helpers/test-env';
import { until } from '../helpers/wait';
import { createAccount } from '../factories/accounts';
import { publishVideo } from '../factories/videos';
import { postAs, registerAndLogin } from './feed-fixtures';

/**
 * The near cache (libs/cache/src/near-cache.ts, `REDIS_NEAR_CACHE`): values of the token, liked-set,
 * generation and getDetail keys held in the process, dropped when Redis says the key changed, and
 * never used past a change this process made or could have missed. A store of its own on the real
 * Redis (through a proxy of our own where Redis is taken away), another client as "another process".
 */
describe('near cache (real Redis)', () => {
  const prefix = `fsv:near:${process.pid}:`;
  let store: RedisCacheStore;
  let other: Redis;
  let proxy: TcpProxy;

  const start = async (url: string): Promise<RedisCacheStore> => {
    const s = new RedisCacheStore({ url, keyPrefix: prefix, timeoutMs: 250, nearCache: true });
    // The first call opens the connections; the cache is armed once tracking is on.
    expect(await until(() => s.nearCache() !== undefined, 10_000)).toBe(true);
    return s;
  };
  const armed = (s: RedisCacheStore): NearCache => {
    const near = s.nearCache();
    if (near === undefined) throw new Error('near cache not in use');
    return near;
  };
  /** A value held for `key` as a read of it would hold it (ticket, read, fill). */
  const hold = async (s: RedisCacheStore, key: string): Promise<string | null> => {
    expect(await until(() => s.nearCache() !== undefined, 5000)).toBe(true);
    const near = armed(s);
    const ticket = near.ticket(key);
    const v = await s.get(key);
    if (ticket) near.fill(ticket, v);
    return v;
  };
  /**
   * Whatever was written to Redis so far has been told to `s`: a raw op of unknown keys raises the
   * store's fence, which ends once a PING on the subscribed connection has come back after it.
   */
  const settled = async (s: RedisCacheStore): Promise<void> => {
    await s.withRedis((redis) => redis.ping());
    expect(await until(() => s.nearCache() !== undefined, 5000)).toBe(true);
  };

  beforeAll(async () => {
    other = new Redis(REDIS_URL);
    store = await start(REDIS_URL);
  });
  afterAll(async () => {
    await store?.close();
    other.disconnect();
    await proxy?.stop();
    await deleteRedisPrefix(prefix);
  });

  it('holds a value read through it, and drops it when another client changes, deletes or expires the key', async () => {
    await other.set(`${prefix}account:1`, 'a');
    await settled(store);
    expect(await hold(store, 'account:1')).toBe('a');
    expect(armed(store).get('account:1')).toBe('a');

    await other.set(`${prefix}account:1`, 'b');
    expect(await until(() => armed(store).get('account:1') === undefined, 5000)).toBe(true);
    expect(await hold(store, 'account:1')).toBe('b');

    await other.del(`${prefix}account:1`);
    expect(await until(() => armed(store).get('account:1') === undefined, 5000)).toBe(true);

    await other.set(`${prefix}video:detail:id=7`, '{"id":7}', 'PX', 300);
    await settled(store);
    expect(await hold(store, 'video:detail:id=7')).toBe('{"id":7}');
    // Expired: told once Redis deletes it (here by a read of it after its time; its own sweep
    // samples keys, and this Redis holds many).
    await new Promise((r) => setTimeout(r, 400));
    expect(await other.get(`${prefix}video:detail:id=7`)).toBeNull();
    expect(await until(() => armed(store).get('video:detail:id=7') === undefined, 5000)).toBe(true);
  });

  it('holds only the key families it tracks', () => {
    const near = armed(store);
    expect(near.ticket('feed:listLatest:limit=10:before=0')).toBeUndefined();
    expect(near.ticket('liked:{uid=3}:set')).toBeDefined();
    expect(near.ticket('feed:videos:gen')).toBeDefined();
  });

  it('a fill whose key another client changed after its read was sent stores nothing', async () => {
    await other.set(`${prefix}account:2`, 'old');
    await other.set(`${prefix}account:marker`, '0');
    await settled(store);
    await hold(store, 'account:marker');
    const near = armed(store);
    expect(near.get('account:marker')).toBe('0');
    const ticket = near.ticket('account:2');
    expect(ticket).toBeDefined();
    const read = await store.get('account:2');
    expect(read).toBe('old');
    await other.set(`${prefix}account:2`, 'new');
    // Changes are told in order: once the marker written after it is dropped, so was the fill's claim.
    await other.set(`${prefix}account:marker`, '1');
    expect(await until(() => near.get('account:marker') === undefined, 5000)).toBe(true);
    near.fill(ticket!, read);
    expect(near.get('account:2')).toBeUndefined();
    // A claim nothing changed under stores its value.
    const again = near.ticket('account:2')!;
    near.fill(again, await store.get('account:2'));
    expect(near.get('account:2')).toBe('new');
  });

  it("this process's own writes are never followed by a read of the value before them", async () => {
    // Known keys (the store's methods) drop the value before the write is sent; a raw op of
    // unknown keys fences every value until Redis has told what it changed.
    for (let i = 0; i < 50; i++) {
      await store.set('account:3', `v${i}`, 60_000);
      // That write's own message handled (so it cannot drop what is held next).
      await settled(store);
      await hold(store, 'account:3');
      expect(store.nearCache()?.get('account:3')).toBe(`v${i}`);
      if (i % 2 === 0) await store.set('account:3', `w${i}`, 60_000);
      else await store.withRedis((redis, p) => redis.set(`${p}account:3`, `w${i}`));
      const seen = store.nearCache()?.get('account:3');
      expect(seen === undefined || seen === `w${i}`).toBe(true);
      expect(await store.get('account:3')).toBe(`w${i}`);
    }
    // The fence ends: values are held again.
    expect(await until(() => store.nearCache() !== undefined, 5000)).toBe(true);
  });

  it('a raw op that names the keys it writes drops those, and raises no fence', async () => {
    await store.set('liked:{uid=4}:set', 'x', 60_000);
    await hold(store, 'liked:{uid=4}:set');
    await hold(store, 'account:4');
    const done = store.withRedis((redis, p) => redis.set(`${p}liked:{uid=4}:set`, 'y'), false, true, [
      'liked:{uid=4}:set',
    ]);
    expect(armed(store).get('liked:{uid=4}:set')).toBeUndefined();
    await done;
    // Other values are still in use at once.
    expect(store.nearCache()?.get('account:4')).toBe(null);
  });

  describe('when the connections that tell changes are lost', () => {
    let viaProxy: RedisCacheStore;
    /** Kills the near cache's subscribed (`sub`) or control (`ctl`) connections of both stores of this suite. */
    const kill = async (which: 'sub' | 'ctl'): Promise<void> => {
      const list = (await other.client('LIST')) as string;
      const ids = list
        .split('\n')
        .filter((l) => l.includes(` name=fsv-near-${which}:${prefix} `))
        .map((l) => /^id=(\d+)/.exec(l)?.[1]);
      expect(ids.length).toBe(2);
      for (const id of ids) await other.client('KILL', 'ID', String(id));
    };

    beforeAll(async () => {
      const target = new URL(REDIS_URL);
      proxy = new TcpProxy(target.hostname, Number(target.port || 6379));
      const port = await proxy.start();
      const url = new URL(REDIS_URL);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      viaProxy = await start(url.toString());
    });
    afterAll(async () => {
      proxy.heal();
      proxy.restore();
      await viaProxy?.close();
    });

    it('a killed connection: nothing held is used, and once tracking is on again values start afresh', async () => {
      await other.set(`${prefix}account:5`, 'a');
      await settled(viaProxy);
      await hold(viaProxy, 'account:5');
      const near = armed(viaProxy);
      expect(near.get('account:5')).toBe('a');
      const arms = near.arms;
      // Both stores of this suite use the prefix: the subscribed connections of both are killed.
      await kill('sub');
      // A change while it is gone goes untold.
      await other.set(`${prefix}account:5`, 'b');
      // Once this process has seen the close and tracking is on again, nothing from before is held.
      expect(await until(() => near.arms > arms && viaProxy.nearCache() !== undefined, 10_000)).toBe(true);
      expect(near.get('account:5')).toBeUndefined();
      expect(await hold(viaProxy, 'account:5')).toBe('b');
    });

    it('only the control connection lost: tracking is turned on again, and changes are told again', async () => {
      const near = armed(viaProxy);
      const arms = near.arms;
      await kill('ctl');
      expect(await until(() => near.arms > arms && viaProxy.nearCache() !== undefined, 10_000)).toBe(true);
      await other.set(`${prefix}account:7`, 'x');
      await settled(viaProxy);
      expect(await hold(viaProxy, 'account:7')).toBe('x');
      expect(near.get('account:7')).toBe('x');
      await other.set(`${prefix}account:7`, 'y');
      expect(await until(() => near.get('account:7') === undefined, 5000)).toBe(true);
    });

    it('a partition (nothing crosses, nothing closes): held values are not used once the heartbeat goes unanswered', async () => {
      await other.set(`${prefix}account:6`, 'a');
      await settled(viaProxy);
      await hold(viaProxy, 'account:6');
      expect(armed(viaProxy).get('account:6')).toBe('a');
      proxy.partition();
      await other.set(`${prefix}account:6`, 'b');
      // 500 ms heartbeat + 1 s: not in use within a few seconds.
      expect(await until(() => viaProxy.nearCache()?.get('account:6') === undefined, 5000)).toBe(true);
      proxy.heal();
      expect(await until(() => viaProxy.nearCache() !== undefined, 15_000)).toBe(true);
      expect(armed(viaProxy).get('account:6')).toBeUndefined();
      expect(await hold(viaProxy, 'account:6')).toBe('b');
    });
  });
});

/**
 * The same across apis (SPEC §2, §7.5): what one api holds near is dropped when another changes it,
 * before that change has answered its caller. The reader's values are held before each write (the
 * test checks they are), so a stale one would be served.
 */
if (PROFILES.includes('full')) {
  describe('near cache across apis (full)', () => {
    let r: TestApp; // reads
    let w: TestApp; // writes
    const heldBy = (t: TestApp, key: string): unknown => t.app.get(CacheStore).nearCache()?.get(key);
    const page = (t: TestApp, token: string) =>
      t.http.post('/feed/listLatest').set('authorization', `Bearer ${token}`).send({ limit: 5 });

    beforeAll(async () => {
      r = await startApp('full');
      w = await startSibling(r, {});
    });
    afterAll(async () => {
      await w?.close();
      await r?.close();
    });

    it('a logout through one api is refused at once by another that held the token', async () => {
      for (let i = 0; i < 10; i++) {
        const viewer = await registerAndLogin(w, 'nearout');
        // Read until the reader holds the token (a fill is dropped when a change of it is told meanwhile).
        for (let k = 0; k < 50 && heldBy(r, `account:${viewer.id}`) === undefined; k++) {
          await page(r, viewer.token).expect(200);
        }
        expect(heldBy(r, `account:${viewer.id}`)).toEqual(expect.any(String));
        await postAs(w, '/account/logout', viewer.token, {}).expect(200);
        expect((await page(r, viewer.token)).status).toBe(401);
      }
    });

    it("a like through one api shows at once in another's getDetail and is_liked", async () => {
      const viewer = await createAccount(w, 'nearlike');
      const { id } = await publishVideo(w, viewer);
      for (let n = 1; n <= 5; n++) {
        // Held on the reader: the video's entry, the viewer's token and liked set.
        const held = (): boolean =>
          heldBy(r, `video:detail:id=${id}`) !== undefined &&
          heldBy(r, `liked:{uid=${viewer.id}}:set`) !== undefined &&
          heldBy(r, `account:${viewer.id}`) !== undefined;
        for (let k = 0; k < 50 && !held(); k++) {
          await r.http.post('/video/getDetail').send({ id }).expect(200);
          await page(r, viewer.token).expect(200);
        }
        expect(held()).toBe(true);
        // A getDetail answered from what is held counts as the cache's hit (/metrics).
        const hits = r.app.get(CacheMetrics).hits;
        const before = hits.get('video_detail') ?? 0;
        await r.http.post('/video/getDetail').send({ id }).expect(200);
        expect(hits.get('video_detail')).toBe(before + 1);
        const liked = n % 2 === 1;
        await postAs(w, liked ? '/like/like' : '/like/unlike', viewer.token, { video_id: id }).expect(200);
        const detail = await r.http.post('/video/getDetail').send({ id }).expect(200);
        expect(detail.body.likes_count).toBe(liked ? 1 : 0);
        const items = (await page(r, viewer.token).expect(200)).body.video_list as {
          id: number;
          is_liked: boolean;
          likes_count: number;
        }[];
        expect(items.find((v) => v.id === id)).toMatchObject({ is_liked: liked, likes_count: liked ? 1 : 0 });
      }
    });
  });
}
