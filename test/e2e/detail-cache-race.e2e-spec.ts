import type { EntityManager } from 'typeorm';
import { CacheKeys, CacheStore } from '@app/cache';
import { ApplyContext } from '@app/events';
import { VideoDetailCache, VideoRepository, type VideoView } from '@app/video';
import { createAccounts } from '../factories/accounts';
import { publishVideo } from '../factories/videos';
import { startApp, startSibling, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';
import { signal } from '../helpers/wait';
import { postAs, registerAndLogin } from './feed-fixtures';

/**
 * `video:detail:id=<id>` (SPEC §5, §7.5): a getDetail whose load read the row before a like
 * committed, and whose fill comes after the like's invalidations (both of them, 500 ms apart),
 * must not cache that old row: the like's count is in every later getDetail, in this api and
 * (with Redis) in another one. The slow load is made by holding the load's answer until after the
 * like (a gate around the repository call, which still reads the database); no dependency is mocked.
 */
describe.each(PROFILES)(
  'detail cache: a slow load never caches a row older than a change (%s)',
  (profile) => {
    let t: TestApp;
    let sibling: TestApp | undefined;

    beforeAll(async () => {
      t = await startApp(profile);
      if (profile === 'full') sibling = await startSibling(t, {});
    });
    afterAll(async () => {
      await sibling?.close();
      await t?.close();
    });

    const detail = async (app: TestApp, id: number): Promise<{ likes_count: number }> =>
      (await app.http.post('/video/getDetail').send({ id }).expect(200)).body;

    /** Runs `during` while a getDetail of `id` on `reader` holds the row it read; returns that answer. */
    const withSlowLoad = async (
      reader: TestApp,
      id: number,
      during: () => Promise<void>,
    ): Promise<{ likes_count: number }> => {
      const repo = reader.app.get(VideoRepository);
      const original = repo.viewsByIds.bind(repo);
      const gate = signal();
      const hasRead = signal();
      const spy = jest
        .spyOn(repo, 'viewsByIds')
        .mockImplementationOnce(async (ids: number[], primary?: boolean): Promise<VideoView[]> => {
          const rows = await original(ids, primary);
          hasRead.fire();
          await gate.done;
          return rows;
        });
      try {
        const slow = detail(reader, id);
        await hasRead.done;
        await during();
        // Past the second invalidation (500 ms after the first).
        await new Promise((r) => setTimeout(r, 800));
        gate.fire();
        return await slow;
      } finally {
        spy.mockRestore();
      }
    };

    it('a like between the load and its fill: the fill is refused, the next reads show the like', async () => {
      const author = await registerAndLogin(t, `race${profile}a`);
      const fan = await registerAndLogin(t, `race${profile}f`);
      const fan2 = await registerAndLogin(t, `race${profile}g`);
      const fan3 = await registerAndLogin(t, `race${profile}h`);
      const fan4 = await registerAndLogin(t, `race${profile}i`);
      const published = await t.http
        .post('/video/publish')
        .set('authorization', `Bearer ${author.token}`)
        .send({
          title: 'raced',
          play_url: 'https://example.com/v.mp4',
          cover_url: 'https://example.com/c.jpg',
        })
        .expect(200);
      const id = published.body.id as number;
      const like = (who: { token: string }) => async (): Promise<void> => {
        await t.http
          .post('/like/like')
          .set('authorization', `Bearer ${who.token}`)
          .send({ video_id: id })
          .expect(200);
      };

      // The key is absent (as when an entry expired): the slow reader's load began before the like.
      await t.app.get(CacheStore).del(CacheKeys.videoDetail(id));
      const answered = await withSlowLoad(t, id, like(fan));
      expect(answered.likes_count).toBe(0);
      expect((await detail(t, id)).likes_count).toBe(1);
      if (sibling) expect((await detail(sibling, id)).likes_count).toBe(1);

      // A second like deletes the key again; now the slow reader is the other api (with Redis),
      // and a third like lands during its load.
      await like(fan2)();
      const second = await withSlowLoad(sibling ?? t, id, like(fan3));
      expect(second.likes_count).toBe(2);
      expect((await detail(t, id)).likes_count).toBe(3);
      if (sibling) expect((await detail(sibling, id)).likes_count).toBe(3);

      // A page's items (`getMany`, as the index pages read them): a missing entry loaded before a
      // fourth like is not cached either.
      await t.app.get(CacheStore).del(CacheKeys.videoDetail(id));
      const repo = t.app.get(VideoRepository);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let read!: () => void;
      const hasRead = new Promise<void>((r) => (read = r));
      const items = t.app.get(VideoDetailCache).getMany([id], async (ids, primary) => {
        const rows = await repo.viewsByIds(ids, primary);
        read();
        await gate;
        return rows;
      });
      await hasRead;
      await like(fan4)();
      await new Promise((r) => setTimeout(r, 800));
      release();
      expect((await items).get(id)?.likes_count).toBe(3);
      expect((await detail(t, id)).likes_count).toBe(4);
      if (sibling) expect((await detail(sibling, id)).likes_count).toBe(4);
    });

    it('a cold cache: the stamps read with the entries (one read) still refuse a fill after a like', async () => {
      const [author, fan] = await createAccounts(t, 2, `race${profile}c`);
      const { id } = await publishVideo(t, author, { title: 'cold' });
      const store = t.app.get(CacheStore);
      const cache = t.app.get(VideoDetailCache);
      const repo = t.app.get(VideoRepository);
      // Pages that miss (ids with no video): past a quarter of the recent pages missing, a page
      // reads its entries' change stamps in the same read as the entries.
      for (let i = 0; i < 40; i++) await cache.getMany([1_900_000_000 + i], async () => []);
      const together = jest.spyOn(store, 'mgetWithStamps');
      try {
        await store.del(CacheKeys.videoDetail(id));
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        let read!: () => void;
        const hasRead = new Promise<void>((r) => (read = r));
        const items = cache.getMany([id], async (ids, primary) => {
          const rows = await repo.viewsByIds(ids, primary);
          read();
          await gate;
          return rows;
        });
        await hasRead;
        expect(together).toHaveBeenCalledTimes(1);
        await postAs(t, '/like/like', fan.token, { video_id: id }).expect(200);
        // Past the like's second invalidation (500 ms after the first).
        await new Promise((r) => setTimeout(r, 800));
        release();
        expect((await items).get(id)?.likes_count).toBe(0);
        // The fill (sent after the page's answer) was refused: no entry with the old count.
        await new Promise((r) => setTimeout(r, 200));
        expect(await store.get(CacheKeys.videoDetail(id))).toBeNull();
        expect((await detail(t, id)).likes_count).toBe(1);
        if (sibling) expect((await detail(sibling, id)).likes_count).toBe(1);
      } finally {
        together.mockRestore();
      }
    });

    it("a page's missing entry is cached by the page's read", async () => {
      const author = await registerAndLogin(t, `race${profile}p`);
      const published = await postAs(t, '/video/publish', author.token, {
        title: 'filled',
        play_url: 'https://example.com/p.mp4',
        cover_url: 'https://example.com/p.jpg',
      }).expect(200);
      const id = published.body.id as number;
      const store = t.app.get(CacheStore);
      await store.del(CacheKeys.videoDetail(id));
      const repo = t.app.get(VideoRepository);
      const items = await t.app
        .get(VideoDetailCache)
        .getMany([id], (ids, primary) => repo.viewsByIds(ids, primary));
      expect(items.get(id)?.id).toBe(id);
      expect(JSON.parse((await store.get(CacheKeys.videoDetail(id))) ?? 'null')).toMatchObject({
        id,
        likes_count: 0,
      });
    });

    it("a batch's detail marks each carry a new video-list generation of their own (a page built between two marks is unreachable after the second)", async () => {
      const store = t.app.get(CacheStore);
      const marks = jest.spyOn(store, 'markChanged');
      try {
        const ctx = new ApplyContext({} as EntityManager);
        const cache = t.app.get(VideoDetailCache);
        cache.invalidateAfterCommit(ctx, 901);
        cache.invalidateAfterCommit(ctx, 902);
        expect(await ctx.runAfterCommit()).toBeNull();
        const carried = marks.mock.calls.map(([key, , , also]) => ({ key, also }));
        expect(carried.map((c) => c.key).sort()).toEqual([
          CacheKeys.videoDetail(901),
          CacheKeys.videoDetail(902),
        ]);
        const values = carried.map((c) => c.also?.value);
        expect(values.every((v) => typeof v === 'string')).toBe(true);
        expect(new Set(values).size).toBe(2);
        expect(carried.every((c) => c.also?.key === CacheKeys.videoListGeneration())).toBe(true);
        // What the store holds now is the generation of the mark that landed last.
        expect(values).toContain(await store.get(CacheKeys.videoListGeneration()));
      } finally {
        marks.mockRestore();
      }
    });
  },
);
