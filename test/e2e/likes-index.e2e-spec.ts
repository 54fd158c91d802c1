import { applyCountsAndPage, CacheKeys, CacheStore, indexMember as member, peekCountPage } from '@app/cache';
import { FeedRepository, type VideoRow } from '@app/feed';
import { LIKES_INDEX_KEYS, LikesCountIndex } from '@app/video';
import { startApp, TestApp } from '../helpers/test-app';
import { PROFILES, redisClient } from '../helpers/test-env';
import { TcpProxy } from '../helpers/tcp-proxy';
import { startWorker, TestWorker } from '../helpers/worker';
import { waitFor } from '../helpers/wait';
import { byLikesDesc, FixtureVideo, insertAccounts, insertVideos, registerAndLogin } from './feed-fixtures';

const LIMITS = [1, 7, 10, 50];
/** A small bound, so pages cross the index's floor. */
const CAP = 40;

jest.setTimeout(90_000);

const KEYS = LIKES_INDEX_KEYS;

type Item = { id: number; likes_count: number; title: string };
type Page = {
  video_list: Item[];
  next_likes_count_before: number;
  next_id_before: number;
  has_more: boolean;
};

/**
 * The likes-count index in Redis (libs/video/src/likes-count-index.ts, libs/cache/src/count-index.ts):
 * every listLikesCount page it answers equals the SQL query item for item (heavy ties, the length
 * bound and its floor), likes and unlikes reorder the next page at once (no broker: applied before
 * they answer), a refresh that read older counts never overwrites a newer one, a gone video sends
 * its page to SQL and leaves the index, and a mark Redis refused drops the index. Redis only:
 * without it listLikesCount is the SQL query, which the feed suites walk on both profiles.
 */
if (PROFILES.includes('full')) {
  describe('likes-count index (full, no broker)', () => {
    let t: TestApp;
    let repo: FeedRepository;
    let index: LikesCountIndex;
    let videos: FixtureVideo[];
    const redis = redisClient();
    const key = (k: string): string => (t.testEnv.redisPrefix ?? '') + k;
    const post = (path: string, token: string, body: object) =>
      t.http.post(path).set('authorization', `Bearer ${token}`).send(body);
    const page = async (body: object): Promise<Page> => {
      const res = await t.http.post('/feed/listLikesCount').send(body);
      expect(res.status).toBe(200);
      return res.body as Page;
    };
    const sqlIds = async (take: number, cursor?: { likes: number; id: number }): Promise<number[]> =>
      (await repo.likesCount(take, cursor)).map((r: VideoRow) => Number(r.id));

    beforeAll(async () => {
      t = await startApp('full', { env: { LIKES_INDEX_MAX_LENGTH: String(CAP) } });
      repo = t.app.get(FeedRepository);
      index = t.app.get(LikesCountIndex);
      const authors = await insertAccounts(t, 3);
      // 120 videos on 6 counts (20 per count): ties on every page, and at the floor.
      videos = await insertVideos(
        t,
        Array.from({ length: 120 }, (_, i) => ({
          author_id: authors[i % authors.length],
          create_time: Date.now() - 60_000 + i,
          likes_count: (i % 6) * 3,
          popularity: (i % 6) * 3,
        })),
      );
    });
    afterAll(async () => {
      redis.disconnect();
      await t?.close();
    });

    /** Walks listLikesCount over HTTP; returns the ids and how many pages the index answered. */
    const walkBoth = async (limit: number): Promise<{ walked: number[]; fromIndex: number }> => {
      await index.warm();
      const walked: number[] = [];
      let cursor: { likes: number; id: number } | undefined;
      let fromIndex = 0;
      for (;;) {
        const sql = await repo.likesCount(limit + 1, cursor);
        if ((await index.page(limit + 1, cursor && { count: cursor.likes, id: cursor.id })) !== undefined)
          fromIndex++;
        const body = await page(
          cursor ? { limit, likes_count_before: cursor.likes, id_before: cursor.id } : { limit },
        );
        expect(body.video_list.map((v) => v.id)).toEqual(sql.slice(0, limit).map((r) => Number(r.id)));
        expect(body.video_list.map((v) => v.likes_count)).toEqual(
          sql.slice(0, limit).map((r) => Number(r.likes_count)),
        );
        expect(body.has_more).toBe(sql.length > limit);
        walked.push(...body.video_list.map((v) => v.id));
        if (!body.has_more) return { walked, fromIndex };
        cursor = { likes: body.next_likes_count_before, id: body.next_id_before };
      }
    };

    it.each(LIMITS)(
      'every page equals the SQL query item for item, ties and the floor included (limit %i)',
      async (limit) => {
        const { walked, fromIndex } = await walkBoth(limit);
        const all = await sqlIds(1000);
        expect(walked).toEqual(all);
        expect(new Set(walked).size).toBe(walked.length);
        // The index holds the top CAP (all counted above its floor): the pages within them come from it.
        expect(fromIndex).toBe(Math.floor((CAP - 1) / limit));
        expect(await redis.zcard(key(CacheKeys.likesIndex()))).toBe(CAP);
      },
    );

    it('made-up cursors (a count no video has, an id not at that count) agree with the SQL query', async () => {
      let answered = 0;
      for (let i = 0; i < 60; i++) {
        const v = videos[(i * 37) % videos.length];
        const cursor = { likes: v.likes_count + (i % 4) - 1, id: v.id + (i % 5) - 2 };
        if (cursor.likes < 0 || cursor.id < 1) continue;
        const limit = LIMITS[i % LIMITS.length];
        const sql = await sqlIds(limit + 1, cursor);
        const fromIndex = await index.page(limit + 1, { count: cursor.likes, id: cursor.id });
        if (fromIndex !== undefined) {
          answered++;
          expect(fromIndex.map((e) => e.id)).toEqual(sql);
        }
        const body = await page({ limit, likes_count_before: cursor.likes, id_before: cursor.id });
        expect(body.video_list.map((x) => x.id)).toEqual(sql.slice(0, limit));
      }
      expect(answered).toBeGreaterThan(5);
    });

    it('the fixture is what the walk saw: (likes_count, id) desc', async () => {
      expect((await sqlIds(1000)).filter((id) => videos.some((v) => v.id === id))).toEqual(
        [...videos].sort(byLikesDesc).map((v) => v.id),
      );
    });

    it('likes lift a video from below the floor into the index; unlikes move it back; each page is exact at once', async () => {
      const low = videos.find((v) => v.likes_count === 0) as FixtureVideo;
      expect(await redis.zscore(key(CacheKeys.likesIndex()), member(low.id))).toBeNull();
      const top = Number((await repo.likesCount(1))[0].likes_count);
      const likers = await Promise.all(
        Array.from({ length: top + 1 }, (_, i) => registerAndLogin(t, `lx${i}`)),
      );
      for (const u of likers)
        expect((await post('/like/like', u.token, { video_id: low.id })).status).toBe(200);
      // No broker: the count is committed before the like answers, the mark right after.
      const first = await page({ limit: 3 });
      expect(first.video_list[0]).toMatchObject({ id: low.id, likes_count: top + 1 });
      expect(first.video_list.map((v) => v.id)).toEqual(await sqlIds(3));
      expect(await index.page(4, undefined)).toBeDefined();
      expect(Number(await redis.zscore(key(CacheKeys.likesIndex()), member(low.id)))).toBe(top + 1);

      for (const u of likers.slice(0, 3))
        expect((await post('/like/unlike', u.token, { video_id: low.id })).status).toBe(200);
      const second = await page({ limit: 5 });
      expect(second.video_list.map((v) => v.id)).toEqual(await sqlIds(5));
      expect(Number(await redis.zscore(key(CacheKeys.likesIndex()), member(low.id)))).toBe(top - 2);
      for (const limit of [1, 7]) {
        const { walked } = await walkBoth(limit);
        expect(walked).toEqual(await sqlIds(1000));
      }
    });

    it("a like's video-list generations land with its marks: none seen before the index's marks is current after them (a page held under one is exact)", async () => {
      const v = videos[videos.length - 1];
      const count = async (): Promise<number> =>
        (await t.http.post('/video/getDetail').send({ id: v.id })).body.likes_count as number;
      const was = await count();
      const liker = await registerAndLogin(t, 'lgen');
      const genKey = key(CacheKeys.videoListGeneration());
      const before = await redis.get(genKey);
      let marksSent = false;
      /** The generation as it was when the index's marks were sent. */
      let beforeMarks: string | null | undefined;
      const realMark = index.mark.bind(index);
      // The index's marks held back until the detail marks, with a generation of their own, have
      // landed (the generation moved: at most 10 s, then they go anyway and the test fails).
      const slow = jest.spyOn(index, 'mark').mockImplementation(async (ids, also) => {
        beforeMarks = await waitFor(
          () => redis.get(genKey),
          (g) => g !== before,
          10_000,
        );
        marksSent = true;
        await realMark(ids, also);
      });
      try {
        expect((await post('/like/like', liker.token, { video_id: v.id })).status).toBe(200);
      } finally {
        slow.mockRestore();
      }
      const final = await redis.get(genKey);
      expect(marksSent).toBe(true);
      // The detail marks moved the generation in their own step, before the index's marks were sent ...
      expect(beforeMarks).not.toBe(before);
      // ... and the index's marks moved it again: no generation seen before them is current after the like.
      expect(final).not.toBe(before);
      expect(final).not.toBe(beforeMarks);
      // The liker's next page, after the like answered, is exact.
      const cursor = { likes: was + 1, id: v.id + 1 };
      const after = await page({ limit: 3, likes_count_before: cursor.likes, id_before: cursor.id });
      expect(after.video_list[0]).toMatchObject({ id: v.id, likes_count: was + 1 });
      expect(after.video_list.map((x) => x.id)).toEqual(await sqlIds(3, cursor));
      await post('/like/unlike', liker.token, { video_id: v.id });
    });

    it('a refresh that read older counts never overwrites a newer one (tickets)', async () => {
      const store = t.app.get(CacheStore);
      const v = videos.find((x) => x.likes_count === 15) as FixtureVideo;
      await index.warm();
      await index.page(1, undefined); // nothing dirty left
      await index.mark([v.id]);
      const older = await peekCountPage(store, KEYS, undefined, 5, 1000);
      expect(older?.kind).toBe('refresh');
      await index.mark([v.id]);
      const newer = await peekCountPage(store, KEYS, undefined, 5, 1000);
      expect(newer?.kind).toBe('refresh');
      if (older?.kind !== 'refresh' || newer?.kind !== 'refresh') throw new Error('no refresh');
      expect(newer.ticket).toBeGreaterThan(older.ticket);
      // The newer refresh applies the real count first; the older one arrives late with a wrong one.
      const real = Number(
        (await t.sql<{ l: number }>('SELECT likes_count AS l FROM videos WHERE id = ?', [v.id]))[0].l,
      );
      const applied = await applyCountsAndPage(
        store,
        KEYS,
        { ticket: newer.ticket, counts: new Map([[v.id, real]]), cap: CAP },
        undefined,
        5,
      );
      expect(applied?.kind).toBe('ok');
      await applyCountsAndPage(
        store,
        KEYS,
        { ticket: older.ticket, counts: new Map([[v.id, 999_999]]), cap: CAP },
        undefined,
        5,
      );
      expect(Number(await redis.zscore(key(CacheKeys.likesIndex()), member(v.id)))).toBe(real);
      expect((await page({ limit: 3 })).video_list.map((x) => x.id)).toEqual(await sqlIds(3));
    });

    it('a mark made after a ticket stays for the next refresh', async () => {
      const store = t.app.get(CacheStore);
      const v = videos.find((x) => x.likes_count === 12) as FixtureVideo;
      await index.mark([v.id]);
      const read = await peekCountPage(store, KEYS, undefined, 5, 1000);
      if (read?.kind !== 'refresh') throw new Error(`expected a refresh, got ${read?.kind}`);
      await index.mark([v.id]); // a commit after the ticket
      const applied = await applyCountsAndPage(
        store,
        KEYS,
        { ticket: read.ticket, counts: new Map([[v.id, 12]]), cap: CAP },
        undefined,
        5,
      );
      expect(applied?.kind).toBe('ok');
      expect(await redis.zscore(key(CacheKeys.likesIndexDirty()), member(v.id))).not.toBeNull();
      await index.page(1, undefined);
      expect(await redis.zscore(key(CacheKeys.likesIndexDirty()), member(v.id))).toBeNull();
    });

    it('every part expires with the index; a part evicted on its own, or a lost sequence, drops the whole index', async () => {
      const v = videos.find((x) => x.likes_count === 15) as FixtureVideo;
      await index.warm();
      await index.mark([v.id]);
      expect(await index.page(3, undefined)).toBeDefined(); // refreshed: the tickets hash exists now
      for (const k of [KEYS.z, KEYS.meta, KEYS.tickets]) expect(await redis.pttl(key(k))).toBeGreaterThan(0);
      await index.mark([v.id]);
      expect(await redis.pttl(key(KEYS.dirty))).toBeGreaterThan(0);

      for (const lost of [KEYS.z, KEYS.dirty, KEYS.tickets, KEYS.seq]) {
        await index.warm();
        await index.mark([v.id]);
        expect(await index.page(3, undefined)).toBeDefined(); // refreshed: a ticket is kept
        await index.mark([v.id]); // and a mark waits (the sequence is read by the next page)
        expect(await redis.exists(key(lost))).toBe(1);
        const built = await redis.hget(key(KEYS.meta), 'token');
        expect(built).not.toBeNull();
        await redis.del(key(lost));
        // The next page cannot trust the index: SQL answers, and the index is dropped. That page
        // starts a new build at once, so the meta is gone or a new build's, never the old one.
        expect(await index.page(3, undefined)).toBeUndefined();
        expect(await redis.hget(key(KEYS.meta), 'token')).not.toBe(built);
        const body = await page({ limit: 3 });
        expect(body.video_list.map((x) => x.id)).toEqual(await sqlIds(3));
      }
      await index.warm();
      expect(await index.page(3, undefined)).toEqual(
        (await repo.likesCount(3)).map((r) => ({ id: Number(r.id), count: Number(r.likes_count) })),
      );
    });

    it('a video deleted behind its back sends its page to SQL and leaves the index', async () => {
      const [victim] = await repo.likesCount(1);
      const id = Number(victim.id);
      expect(await redis.zscore(key(CacheKeys.likesIndex()), member(id))).not.toBeNull();
      await t.sql('DELETE FROM videos WHERE id = ?', [id]);
      await redis.del(key(CacheKeys.videoDetail(id)));
      const body = await page({ limit: 4 });
      expect(body.video_list.map((v) => v.id)).toEqual(await sqlIds(4));
      expect(body.video_list.map((v) => v.id)).not.toContain(id);
      // That page marked it: the next refresh removes it.
      await index.page(1, undefined);
      expect(await redis.zscore(key(CacheKeys.likesIndex()), member(id))).toBeNull();
    });

    it('a publish and a delete (through the routes) are in the next walk', async () => {
      const author = await registerAndLogin(t, 'lipub');
      const res = await post('/video/publish', author.token, {
        title: 'fresh',
        play_url: 'https://cdn.example.com/v.mp4',
        cover_url: 'https://cdn.example.com/c.jpg',
      });
      expect(res.status).toBe(200);
      const id = res.body.id as number;
      const liker = await registerAndLogin(t, 'lipubl');
      expect((await post('/like/like', liker.token, { video_id: id })).status).toBe(200);
      expect((await walkBoth(50)).walked).toContain(id);
      expect((await post('/video/delete', author.token, { id })).status).toBe(200);
      const { walked } = await walkBoth(50);
      expect(walked).not.toContain(id);
      expect(walked).toEqual(await sqlIds(1000));
    });

    it('an item whose cached entry shows another count than the index sends the page to SQL and is refreshed', async () => {
      const [top] = await repo.likesCount(1);
      const id = Number(top.id);
      // A count changed behind the system's back (what the reconciler repairs), entry dropped.
      await t.sql('UPDATE videos SET likes_count = likes_count + 1000 WHERE id = ?', [id]);
      await redis.del(key(CacheKeys.videoDetail(id)));
      const body = await page({ limit: 2 });
      expect(body.video_list[0]).toMatchObject({ id, likes_count: Number(top.likes_count) + 1000 });
      await index.page(1, undefined);
      expect(Number(await redis.zscore(key(CacheKeys.likesIndex()), member(id)))).toBe(
        Number(top.likes_count) + 1000,
      );
      await t.sql('UPDATE videos SET likes_count = likes_count - 1000 WHERE id = ?', [id]);
      await redis.del(key(CacheKeys.videoDetail(id)));
      await index.mark([id]);
    });
  });

  describe('likes-count index: a refused mark drops the index (full)', () => {
    let t: TestApp;
    let proxy: TcpProxy;
    const redis = redisClient();

    beforeAll(async () => {
      proxy = new TcpProxy('127.0.0.1', 6379);
      const port = await proxy.start();
      t = await startApp('full', { redisUrl: `redis://127.0.0.1:${port}` });
    });
    afterAll(async () => {
      redis.disconnect();
      await t?.close();
      await proxy?.stop();
    });

    it('a like while Redis is cut is not lost from the pages once Redis is back', async () => {
      const key = (k: string): string => (t.testEnv.redisPrefix ?? '') + k;
      const author = await registerAndLogin(t, 'licut');
      const liker = await registerAndLogin(t, 'licutl');
      const bearer = (tok: string) => `Bearer ${tok}`;
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await t.http
          .post('/video/publish')
          .set('authorization', bearer(author.token))
          .send({ title: `c${i}`, play_url: 'https://e.com/v.mp4', cover_url: 'https://e.com/c.jpg' })
          .expect(200);
        ids.push(res.body.id as number);
      }
      const index = t.app.get(LikesCountIndex);
      await index.warm();
      expect(await redis.exists(key(CacheKeys.likesIndexMeta()))).toBe(1);
      proxy.cut();
      try {
        await t.http
          .post('/like/like')
          .set('authorization', bearer(liker.token))
          .send({ video_id: ids[0] })
          .expect(200); // committed; its mark cannot reach Redis
        // Meanwhile this api does not read the index: the page is the SQL query's.
        expect(await index.page(3, undefined)).toBeUndefined();
      } finally {
        proxy.restore();
      }
      // Once Redis answers, the index is dropped (then rebuilt from the database).
      const deadline = Date.now() + 10_000;
      while ((await redis.exists(key(CacheKeys.likesIndexMeta()))) === 1 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await redis.exists(key(CacheKeys.likesIndexMeta()))).toBe(0);
      const first = await t.http.post('/feed/listLikesCount').send({ limit: 1 }).expect(200);
      expect(first.body.video_list[0]).toMatchObject({ id: ids[0], likes_count: 1 });
      // The index is read again once the store has settled after Redis came back
      // (SETTLE_AFTER_RECOVERY_MS: until then every cached read is a miss).
      let page = await index.page(2, undefined);
      for (const end = Date.now() + 5000; page === undefined && Date.now() < end;) {
        await new Promise((r) => setTimeout(r, 100));
        await index.warm();
        page = await index.page(2, undefined);
      }
      expect(page).toEqual([
        { id: ids[0], count: 1 },
        { id: ids[2], count: 0 },
      ]);
    });
  });

  describe('likes-count index with the broker: the worker marks what it applies (full)', () => {
    let t: TestApp;
    let worker: TestWorker | undefined;

    beforeAll(async () => {
      t = await startApp('full', { amqp: true });
      worker = await startWorker(t.testEnv, { migrate: false });
    });
    afterAll(async () => {
      await worker?.close().catch(() => undefined);
      await t?.close();
    });

    it('likes applied by the worker reorder the index-served pages within the convergence bound', async () => {
      const author = await registerAndLogin(t, 'libk');
      const ids: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await t.http
          .post('/video/publish')
          .set('authorization', `Bearer ${author.token}`)
          .send({ title: `b${i}`, play_url: 'https://e.com/v.mp4', cover_url: 'https://e.com/c.jpg' })
          .expect(200);
        ids.push(res.body.id as number);
      }
      const index = t.app.get(LikesCountIndex);
      await index.warm();
      expect(await index.page(4, undefined)).toEqual([...ids].reverse().map((id) => ({ id, count: 0 })));
      const likers = await Promise.all([0, 1, 2].map((i) => registerAndLogin(t, `libkl${i}`)));
      // ids[0] gets 3 likes, ids[1] gets 1: applied (and marked) by the worker, not the api.
      for (const u of likers)
        await t.http
          .post('/like/like')
          .set('authorization', `Bearer ${u.token}`)
          .send({ video_id: ids[0] })
          .expect(200);
      await t.http
        .post('/like/like')
        .set('authorization', `Bearer ${likers[0].token}`)
        .send({ video_id: ids[1] })
        .expect(200);
      const want = [
        { id: ids[0], count: 3 },
        { id: ids[1], count: 1 },
        { id: ids[3], count: 0 },
        { id: ids[2], count: 0 },
      ];
      const deadline = Date.now() + 10_000;
      let got = await index.page(4, undefined);
      while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        got = await index.page(4, undefined);
      }
      expect(got).toEqual(want);
      const body = (await t.http.post('/feed/listLikesCount').send({ limit: 4 }).expect(200)).body as Page;
      expect(body.video_list.map((v) => [v.id, v.likes_count])).toEqual(want.map((w) => [w.id, w.count]));
    });
  });
}
