import {
  addToBuild,
  beginBuild,
  CacheKeys,
  CacheStore,
  finishBuild,
  pushEntry,
  ScopedIdIndex,
  BIG_SET,
  SET_GRACE_MS,
} from '@app/cache';
import { FeedRepository, FeedService, LatestIndex, timelineMember as member, type PageRow } from '@app/feed';
import { startApp, TestApp } from '../helpers/test-app';
import { PROFILES, redisClient } from '../helpers/test-env';
import {
  byTimeDesc,
  FixtureVideo,
  insertAccounts,
  insertVideos,
  registerAndLogin,
  shownRows,
  waitForKey,
} from './feed-fixtures';

const LIMITS = [1, 7, 10, 50];
/** A small bound, so pages cross the index's floor. */
const CAP = 40;

jest.setTimeout(60_000);

const ids = (rows: PageRow[]): number[] => rows.map((r) => Number(r.id));

/**
 * The latest index in Redis (libs/feed/src/latest-index.ts): every listLatest page it answers
 * equals the SQL query item for item and field for field (ties, the length bound), and a publish,
 * a delete, a like and a rename reach the pages at once. Redis only: without it listLatest is the
 * SQL query, which the feed suites walk on both profiles (and, with Redis, through this index).
 */
if (PROFILES.includes('full')) {
  describe('latest index (full, no broker)', () => {
    let t: TestApp;
    let feed: FeedService;
    let repo: FeedRepository;
    let index: LatestIndex;
    let videos: FixtureVideo[];
    let author: { id: number; token: string };
    const redis = redisClient();
    const key = (k: string): string => (t.testEnv.redisPrefix ?? '') + k;
    const post = (path: string, token: string, body: object) =>
      t.http.post(path).set('authorization', `Bearer ${token}`).send(body);

    beforeAll(async () => {
      t = await startApp('full', { env: { LATEST_INDEX_MAX_LENGTH: String(CAP) } });
      feed = t.app.get(FeedService);
      repo = t.app.get(FeedRepository);
      index = t.app.get(LatestIndex);
      author = await registerAndLogin(t, 'li');
      const authors = await insertAccounts(t, 5);
      const base = Date.now() - 60_000;
      // 120 videos on 6 distinct milliseconds (20 per millisecond): ties on every page.
      videos = await insertVideos(
        t,
        Array.from({ length: 120 }, (_, i) => ({
          author_id: authors[i % authors.length],
          create_time: base - (i % 6) * 1000,
          likes_count: i % 4,
          popularity: i % 4,
        })),
      );
    });
    afterAll(async () => {
      redis.disconnect();
      await t?.close();
    });

    /** Walks both paths from the first page; returns how many pages the index answered. */
    const walkBoth = async (limit: number): Promise<{ fromIndex: number; walked: number[] }> => {
      const walked: number[] = [];
      let latestTime = 0;
      let idBefore = 0;
      let fromIndex = 0;
      await index.warm();
      for (;;) {
        const sql = await repo.latest(limit + 1, latestTime, idBefore);
        if ((await index.ids(limit + 1, latestTime, idBefore)) !== undefined) fromIndex++;
        const rows = await feed.latestRows({ limit, latestTime, idBefore });
        expect(shownRows(rows)).toEqual(shownRows(sql));
        walked.push(...ids(sql).slice(0, limit));
        if (sql.length <= limit) return { fromIndex, walked };
        latestTime = Number(sql[limit - 1].create_time);
        idBefore = Number(sql[limit - 1].id);
      }
    };

    it.each(LIMITS)(
      'every page equals the SQL query item for item, ties and the length bound included (limit %i)',
      async (limit) => {
        const { fromIndex, walked } = await walkBoth(limit);
        const expected = [...videos].sort(byTimeDesc).map((v) => v.id);
        expect(walked).toEqual(expected);
        // The pages within the newest CAP entries come from the index; the rest from SQL.
        expect(fromIndex).toBe(Math.floor((CAP - 1) / limit));
        expect(await redis.zcard(key(CacheKeys.latestIndex()))).toBe(CAP);
      },
    );

    it('random cursors (with and without id_before) agree with the SQL query', async () => {
      const times = [...new Set(videos.map((v) => v.create_time))];
      for (let i = 0; i < 40; i++) {
        const v = videos[(i * 37) % videos.length];
        const latestTime = i % 5 === 0 ? times[i % times.length] : v.create_time;
        const idBefore = i % 5 === 0 ? 0 : v.id + (i % 3);
        const limit = LIMITS[i % LIMITS.length];
        const sql = await repo.latest(limit + 1, latestTime, idBefore);
        expect(shownRows(await feed.latestRows({ limit, latestTime, idBefore }))).toEqual(shownRows(sql));
      }
    });

    it('listLatest deep pages over HTTP walk the same items as the SQL query', async () => {
      const walked: number[] = [];
      let cursor = { latest_time: 0, id_before: 0 };
      for (;;) {
        const sql = await repo.latest(8, cursor.latest_time, cursor.id_before);
        const res = await t.http.post('/feed/listLatest').send({ limit: 7, ...cursor });
        expect(res.status).toBe(200);
        const list = res.body.video_list as { id: number; likes_count: number }[];
        expect(list.map((v) => v.id)).toEqual(ids(sql).slice(0, 7));
        expect(list.map((v) => v.likes_count)).toEqual(sql.slice(0, 7).map((r) => Number(r.likes_count)));
        walked.push(...list.map((v) => v.id));
        if (!res.body.has_more) break;
        cursor = { latest_time: res.body.next_time as number, id_before: res.body.next_id_before as number };
      }
      expect(walked.length).toBe(await repo.latest(1000, 0, 0).then((r) => r.length));
    });

    it('a publish is in the index before it answers, and on the next deep page; a delete is gone from it at once', async () => {
      const top = await repo.latest(1, 0, 0);
      const res = await post('/video/publish', author.token, {
        title: 'fresh #latest',
        play_url: 'https://cdn.example.com/v.mp4',
        cover_url: 'https://cdn.example.com/c.jpg',
      });
      expect(res.status).toBe(200);
      const id = res.body.id as number;
      expect(await redis.zscore(key(CacheKeys.latestIndex()), member(id))).not.toBeNull();
      // A cursor just above everything: a deep page, not the cached first page.
      const far = Date.now() + 60_000;
      const page = await t.http.post('/feed/listLatest').send({ limit: 3, latest_time: far, id_before: 1 });
      expect(page.status).toBe(200);
      const first = (page.body.video_list as { id: number; title: string; tags: string[] }[])[0];
      expect(first).toMatchObject({ id, title: 'fresh #latest', tags: ['latest'] });
      expect((page.body.video_list as { id: number }[])[1].id).toBe(Number(top[0].id));

      const del = await post('/video/delete', author.token, { id });
      expect(del.status).toBe(200);
      expect(await redis.zscore(key(CacheKeys.latestIndex()), member(id))).toBeNull();
      const after = await t.http.post('/feed/listLatest').send({ limit: 3, latest_time: far, id_before: 1 });
      expect((after.body.video_list as { id: number }[]).map((v) => v.id)).not.toContain(id);
    });

    it('a video deleted behind its back is removed from the index, and that page comes from SQL', async () => {
      const [victim] = await repo.latest(1, 0, 0);
      const id = Number(victim.id);
      expect(await redis.zscore(key(CacheKeys.latestIndex()), member(id))).not.toBeNull();
      await t.sql('DELETE FROM videos WHERE id = ?', [id]);
      await redis.del(key(CacheKeys.videoDetail(id)));
      const q = { limit: 5, latestTime: Date.now() + 60_000, idBefore: 1 };
      const rows = await feed.latestRows(q);
      expect(ids(rows)).not.toContain(id);
      expect(ids(rows)).toEqual(ids(await repo.latest(6, q.latestTime, q.idBefore)));
      expect(await redis.zscore(key(CacheKeys.latestIndex()), member(id))).toBeNull();
    });

    it("a like's count and an author's rename show on the next deep page (the items' entries are dropped)", async () => {
      const res = await post('/video/publish', author.token, {
        title: 'to like',
        play_url: 'https://cdn.example.com/v.mp4',
        cover_url: 'https://cdn.example.com/c.jpg',
      });
      const id = res.body.id as number;
      const deep = { limit: 2, latest_time: Date.now() + 60_000, id_before: 1 };
      const item = async () =>
        (
          (await t.http.post('/feed/listLatest').send(deep)).body.video_list as {
            id: number;
            likes_count: number;
            author: { username: string };
          }[]
        ).find((v) => v.id === id);
      const before = await item();
      expect(before).toMatchObject({ likes_count: 0, author: { username: expect.stringMatching(/^li/) } });
      const liker = await registerAndLogin(t, 'liliker');
      expect((await post('/like/like', liker.token, { video_id: id })).status).toBe(200);
      const deadline = Date.now() + 15_000;
      while ((await item())?.likes_count !== 1 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((await item())?.likes_count).toBe(1);
      const renamed = `${before?.author.username ?? ''}_r`;
      const rename = await post('/account/rename', author.token, { new_username: renamed });
      expect(rename.status).toBe(200);
      expect(await item()).toMatchObject({ author: { username: renamed } });
    });

    it('without a usable index (Redis key gone mid-walk) the pages are the SQL query', async () => {
      await redis.del(key(CacheKeys.latestIndex()), key(CacheKeys.latestIndexMeta()));
      const q = { limit: 10, latestTime: Date.now() + 60_000, idBefore: 1 };
      expect(ids(await feed.latestRows(q))).toEqual(ids(await repo.latest(11, q.latestTime, q.idBefore)));
      // That read started a build (off its path): the index is back shortly after.
      await waitForKey(redis, key(CacheKeys.latestIndexMeta()));
    });

    it.each([BIG_SET + 1, 50])(
      "an index's set of more than BIG_SET entries outlives its meta by SET_GRACE_MS, and the next build drops it (%i entries)",
      async (n) => {
        const store = t.app.get(CacheStore);
        const keys = (prefix: string): [string, string] => [
          `${prefix}test:{grace}:z`,
          `${prefix}test:{grace}:m`,
        ];
        const [z, m] = keys(t.testEnv.redisPrefix ?? '');
        const entries = Array.from({ length: n }, (_, i) => ({ id: n - i, time: 1_000_000 + n - i }));
        try {
          expect(await beginBuild(store, keys, 'tok', 10_000, '')).toBe(true);
          const b = { token: 'tok', ttlMs: 60_000, cap: n, all: true, version: '0', extra: '', entries };
          expect(await finishBuild(store, keys, b, 10_000)).toBe(true);
          const [zTtl, mTtl] = [await redis.pttl(z), await redis.pttl(m)];
          const grace = n > BIG_SET ? SET_GRACE_MS : 0;
          expect(zTtl - mTtl).toBeGreaterThan(grace - 5000);
          expect(zTtl - mTtl).toBeLessThanOrEqual(grace + 1000);
          // The meta expired, the set left: the next build starts from nothing.
          await redis.del(m);
          expect(await redis.zcard(z)).toBe(n);
          expect(await beginBuild(store, keys, 'tok2', 10_000, '')).toBe(true);
          expect(await redis.exists(z)).toBe(0);
        } finally {
          await redis.del(z, m);
        }
      },
    );

    it.each([20, 21, 'all', 'all+5'] as const)(
      'a build in parts (of 7, ties split across parts) holds exactly the newest entries, its floor set only when some were left out (cap %s)',
      async (capCase) => {
        const everything = await repo.latestIds(100_000);
        const cap =
          capCase === 'all' ? everything.length : capCase === 'all+5' ? everything.length + 5 : capCase;
        const scopeKeys = (): [string, string] => [`test:{parts:${cap}}:z`, `test:{parts:${cap}}:m`];
        let loads = 0;
        const parts = new ScopedIdIndex(t.app.get(CacheStore), {
          name: 'parts',
          keys: scopeKeys,
          cap,
          load: (_scope, take, before) => {
            loads++;
            return repo.latestIds(take, before);
          },
          paged: true,
          partSize: 7,
        });
        try {
          await parts.warm('');
          const [z, m] = scopeKeys().map(key);
          const held = await redis.zrevrange(z, 0, -1, 'WITHSCORES');
          const entries: { id: number; time: number }[] = [];
          for (let i = 0; i < held.length; i += 2)
            entries.push({ id: Number(held[i]), time: Number(held[i + 1]) });
          const newest = everything.slice(0, Math.min(cap, everything.length));
          expect(entries).toEqual(newest);
          expect(loads).toBe(Math.ceil(Math.min(cap, everything.length + 1) / 7));
          const last = newest[newest.length - 1];
          expect(await redis.hget(m, 'floor')).toBe(
            cap < everything.length ? `${last.time}:${member(last.id)}` : '',
          );
          expect(await redis.hget(m, 'state')).toBe('ready');
          // Past the oldest entry held: SQL's to answer when some were left out, else nothing more.
          expect(await parts.ids('', 10, last.time, last.id)).toEqual(
            cap < everything.length ? undefined : [],
          );
          // A page across the parts' seams is the SQL query's.
          const mid = newest[5];
          expect(await parts.ids('', 9, mid.time, mid.id)).toEqual(
            (await repo.latest(9, mid.time, mid.id)).map((r) => Number(r.id)),
          );
        } finally {
          parts.close();
          await redis.del(...scopeKeys().map(key));
        }
      },
    );

    it('a publish pushed while a build in parts is at its bound cuts nothing before the finish: with a delete, no gap above the floor', async () => {
      const store = t.app.get(CacheStore);
      const keys = (prefix: string): [string, string] => [`${prefix}test:{gap}:z`, `${prefix}test:{gap}:m`];
      const t0 = 1_000_000;
      const entry = (i: number) => ({ id: 1000 - i, time: t0 - i * 10 });
      try {
        expect(await beginBuild(store, keys, 'tok', 10_000, '')).toBe(true);
        // The newest 4 sent ahead (the bound is 4), then a publish arrives, then the older rest.
        expect(await addToBuild(store, keys, 'tok', 10_000, [0, 1, 2, 3].map(entry))).toBe(true);
        const fresh = { id: 2000, time: t0 + 10 };
        await store.withRedis((r, p) => pushEntry(r, keys(p), fresh, 4));
        // And a delete (entry 1): the finish now keeps one older entry than before it.
        await redis.zrem(key('test:{gap}:z'), member(999));
        expect(
          await finishBuild(
            store,
            keys,
            {
              token: 'tok',
              ttlMs: 60_000,
              cap: 4,
              all: false,
              version: '0',
              extra: '',
              entries: [4, 5].map(entry),
            },
            10_000,
          ),
        ).toBe(true);
        const held = await redis.zrevrange(key('test:{gap}:z'), 0, -1);
        // The newest 4 of what is left, entry 3 among them (a cut at the push would have lost it,
        // leaving 996 as the floor below a gap).
        expect(held.map(Number)).toEqual([2000, 1000, 998, 997]);
        expect(await redis.hget(key('test:{gap}:m'), 'floor')).toBe(`${t0 - 30}:${member(997)}`);
      } finally {
        await redis.del(key('test:{gap}:z'), key('test:{gap}:m'));
      }
    });
  });
}
