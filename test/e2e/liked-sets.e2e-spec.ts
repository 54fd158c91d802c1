import { CacheKeys, CacheStore } from '@app/cache';
import { FeedRepository } from '@app/feed';
import { startApp, startSibling, TestApp } from '../helpers/test-app';
import { PROFILES, redisClient } from '../helpers/test-env';
import { TcpProxy } from '../helpers/tcp-proxy';
import { FixtureVideo, follow, insertAccounts, insertVideos, registerAndLogin } from './feed-fixtures';

interface Item {
  id: number;
  is_liked: boolean;
}

/**
 * `is_liked` from the viewer's liked set in Redis (libs/like/src/liked-sets.ts): loaded once,
 * dropped by each like and unlike before it answers, never stored by a load that raced a write,
 * and bypassed (SQL) while an invalidation could not reach Redis. Redis only: the embedded
 * profile answers `is_liked` by SQL, which the feed suites check.
 */
if (PROFILES.includes('full')) {
  describe('liked sets for is_liked (full)', () => {
    let a: TestApp; // writes and reads through a proxy to Redis that can be cut
    let b: TestApp; // another api on the same database and Redis, direct
    let proxy: TcpProxy;
    let videos: FixtureVideo[];
    let authors: number[];

    beforeAll(async () => {
      proxy = new TcpProxy('127.0.0.1', 6379);
      const port = await proxy.start();
      a = await startApp('full', { redisUrl: `redis://127.0.0.1:${port}` });
      b = await startSibling(a, { REDIS_URL: 'redis://127.0.0.1:6379' });
      authors = await insertAccounts(a, 3);
      const base = Date.now() - 1000;
      videos = await insertVideos(
        a,
        Array.from({ length: 12 }, (_, i) => ({
          author_id: authors[i % 3],
          create_time: base - i,
          likes_count: 0,
          popularity: 0,
        })),
      );
    });
    afterAll(async () => {
      await b?.close();
      await a?.close();
      await proxy?.stop();
    });

    const page = async (t: TestApp, token: string, route = '/feed/listLatest'): Promise<Item[]> => {
      const res = await t.http.post(route).set('authorization', `Bearer ${token}`).send({ limit: 50 });
      expect(res.status).toBe(200);
      return res.body.video_list as Item[];
    };
    const likedIds = (items: Item[]): number[] =>
      items
        .filter((i) => i.is_liked)
        .map((i) => i.id)
        .sort();
    const rowsOf = async (accountId: number): Promise<number[]> =>
      (await a.sql<{ video_id: number }>('SELECT video_id FROM likes WHERE account_id = ?', [accountId]))
        .map((r) => Number(r.video_id))
        .sort();
    const like = (t: TestApp, token: string, id: number, un = false) =>
      t.http
        .post(un ? '/like/unlike' : '/like/like')
        .set('authorization', `Bearer ${token}`)
        .send({ video_id: id });

    it('a page after a like or unlike shows it at once, on the api that wrote and on another; loaded sets spare the query', async () => {
      const v = await registerAndLogin(a, 'sets');
      await follow(a, v.id, authors);
      expect(likedIds(await page(b, v.token))).toEqual([]); // loads the (empty) set
      const key = (a.testEnv.redisPrefix ?? '') + CacheKeys.likedSet(v.id);
      const r = redisClient();
      try {
        expect(await r.sismember(key, '0')).toBe(1);
        const repo = b.app.get(FeedRepository);
        const query = jest.spyOn(repo, 'likedAmong');
        for (const route of ['/feed/listLatest', '/feed/listByFollowing', '/feed/listLikesCount']) {
          expect(likedIds(await page(b, v.token, route))).toEqual([]);
        }
        expect(query).not.toHaveBeenCalled();
        query.mockRestore();

        await like(a, v.token, videos[2].id).expect(200);
        expect(await r.exists(key)).toBe(0); // dropped before the like answered
        for (const t of [a, b]) {
          for (const route of ['/feed/listLatest', '/feed/listByFollowing', '/feed/listLikesCount']) {
            expect({ route, liked: likedIds(await page(t, v.token, route)) }).toEqual({
              route,
              liked: [videos[2].id],
            });
          }
        }
        await like(b, v.token, videos[5].id).expect(200);
        await like(b, v.token, videos[2].id, true).expect(200);
        expect(likedIds(await page(a, v.token))).toEqual([videos[5].id]);
        // A 409 writes nothing, and the page stays right.
        await like(a, v.token, videos[5].id).expect(409);
        expect(likedIds(await page(b, v.token))).toEqual([videos[5].id]);
      } finally {
        r.disconnect();
      }
    });

    it("a like's scripts (hot buckets, the set's drop), a set's load and the hot list go by their SHA, never with their text", async () => {
      const client = await b.app.get(CacheStore).withRedis((redis) => Promise.resolve(redis));
      if (client === undefined) throw new Error('Redis is not answering');
      const round = async (videoId: number): Promise<void> => {
        const v = await registerAndLogin(b, 'sha');
        expect(likedIds(await page(b, v.token))).toEqual([]); // loads the set
        await like(b, v.token, videoId).expect(200); // drops it; counts the like in its minute
        expect(likedIds(await page(b, v.token))).toEqual([videoId]);
        // Its snapshot's scripts (the like shows within the snapshot's refresh, SPEC §6).
        const hot = await b.http.post('/feed/listByPopularity').send({ limit: 50 }).expect(200);
        expect((hot.body.video_list as Item[]).length).toBeGreaterThan(0);
      };
      // The first use of a script on a server sends its text once (NOSCRIPT), whoever runs it first.
      await round(videos[7].id);
      const evals = jest.spyOn(client, 'eval');
      try {
        await round(videos[8].id);
        expect(evals).not.toHaveBeenCalled();
      } finally {
        evals.mockRestore();
      }
    });

    it('racing likes, unlikes and page reads on two apis end with the pages equal to the rows', async () => {
      const v = await registerAndLogin(a, 'race');
      for (let round = 0; round < 4; round++) {
        const ops: Promise<unknown>[] = [];
        for (let i = 0; i < 12; i++) {
          const t = (i + round) % 2 === 0 ? a : b;
          const target = videos[(i * 5 + round) % videos.length].id;
          ops.push(like(t, v.token, target, (i + round) % 3 === 0).then((res) => res.status));
          ops.push(page(i % 2 === 0 ? b : a, v.token));
        }
        await Promise.all(ops);
        const rows = await rowsOf(v.id);
        for (const t of [a, b]) expect(likedIds(await page(t, v.token))).toEqual(rows);
      }
    });

    it('an invalidation Redis refused keeps that viewer on SQL until it goes through; the set is right after', async () => {
      const v = await registerAndLogin(a, 'cut');
      await like(a, v.token, videos[0].id).expect(200);
      expect(likedIds(await page(a, v.token))).toEqual([videos[0].id]); // set loaded through the proxy
      proxy.cut();
      try {
        await like(a, v.token, videos[1].id).expect(200); // the invalidation cannot reach Redis
        // The writer's api asks the database for this viewer while its invalidation is pending.
        expect(likedIds(await page(a, v.token))).toEqual([videos[0].id, videos[1].id].sort());
      } finally {
        proxy.restore();
      }
      // Once Redis answers again the pending invalidation goes through; every api then agrees.
      const want = [videos[0].id, videos[1].id].sort();
      const deadline = Date.now() + 15_000;
      for (;;) {
        const got = [likedIds(await page(a, v.token)), likedIds(await page(b, v.token))];
        if (got.every((g) => JSON.stringify(g) === JSON.stringify(want))) break;
        if (Date.now() > deadline)
          throw new Error(`pages still ${JSON.stringify(got)}, rows ${JSON.stringify(want)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    });
  });
}
