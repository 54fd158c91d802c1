import { CacheKeys, CacheStore } from '@app/cache';
import {
  FeedRepository,
  dropParts,
  FeedService,
  partKey,
  readParts,
  Timelines,
  TIMELINE_PART,
  writePart,
  type PageRow,
} from '@app/feed';
import { startApp, TestApp } from '../helpers/test-app';
import { PROFILES, redisClient } from '../helpers/test-env';
import {
  byTimeDesc,
  FixtureVideo,
  follow,
  insertAccounts,
  insertVideos,
  postAs,
  registerAndLogin,
  timelinePageChecked,
  walkFollowingAgainstSql,
} from './feed-fixtures';

const LIMITS = [1, 7, 10, 50];
/** The timeline holds 10: nearly every page is past it. */
const TL_CAP = 10;

jest.setTimeout(120_000);

const ids = (rows: PageRow[]): number[] => rows.map((r) => Number(r.id));

/**
 * Deep parts of the following timelines (libs/feed/src/timeline-parts.ts): pages past a timeline,
 * loaded from the database TIMELINE_PART at a time and kept per viewer, equal the SQL pull item for
 * item (ties across the parts' seams, chains of parts, parts cut where they overlap), and a follow,
 * an unfollow and a delete reach the next deep page. Redis only; the merge from author indexes is
 * off here (timelines.e2e-spec.ts has it), so every page past the timeline is a part's or SQL's.
 */
if (PROFILES.includes('full')) {
  describe('deep parts of the following timelines (full, no broker)', () => {
    let t: TestApp;
    let feed: FeedService;
    let repo: FeedRepository;
    let timelines: Timelines;
    let store: CacheStore;
    let viewer: { id: number; token: string };
    let authors: number[];
    let videos: FixtureVideo[];
    let expected: number[];
    const redis = redisClient();
    const key = (k: string): string => (t.testEnv.redisPrefix ?? '') + k;
    /** The viewer's parts token (a read at a cursor no part holds makes the hash when there is none). */
    const tokenOf = async (viewerId: number): Promise<string> =>
      (await readParts(store, viewerId, 1, base + 1, 0))?.token ?? '';
    const partNames = async (viewerId: number): Promise<string[]> =>
      redis.zrange(key(CacheKeys.timelinePartsDir(viewerId)), 0, -1);
    /** Settled: well over a minute old. */
    const base = Date.now() - 10 * 60_000;

    beforeAll(async () => {
      t = await startApp('full', {
        env: {
          TIMELINE_MAX_LENGTH: String(TL_CAP),
          TIMELINE_MERGE_MAX_FOLLOWS: '0',
          // Every page is counted as the parts' or SQL's: a command timed out by a stall of this
          // loaded test process (250 ms by default) sends that page to SQL, as designed, and fails
          // the count. CI once counted 499 of 500 here; the cause was not seen, and a timeout is
          // the one way found for a single page to go to SQL in this walk.
          REDIS_TIMEOUT_MS: '2000',
        },
      });
      feed = t.app.get(FeedService);
      repo = t.app.get(FeedRepository);
      timelines = t.app.get(Timelines);
      store = t.app.get(CacheStore);
      viewer = await registerAndLogin(t, 'dp');
      authors = await insertAccounts(t, 6);
      // 2.5 parts of videos by 5 followed authors (and one other) on 25 milliseconds: 30 ties per millisecond,
      // so parts begin and end inside a millisecond.
      const n = Math.round(TIMELINE_PART * 3);
      videos = await insertVideos(
        t,
        Array.from({ length: n }, (_, i) => ({
          author_id: authors[i % authors.length],
          create_time: base - (i % 25) * 1000,
          likes_count: 0,
          popularity: 0,
        })),
      );
      await follow(t, viewer.id, authors.slice(0, 5));
      const followed = new Set(authors.slice(0, 5));
      expected = videos
        .filter((v) => followed.has(v.author_id))
        .sort(byTimeDesc)
        .map((v) => v.id);
    });
    afterAll(async () => {
      redis.disconnect();
      await t?.close();
    });

    const walk = (viewerId: number, limit: number) => walkFollowingAgainstSql(t, viewerId, limit);

    it.each(LIMITS)(
      'every page past the timeline comes from its parts and equals the SQL pull (limit %i)',
      async (limit) => {
        const { pages, answered, walked } = await walk(viewer.id, limit);
        expect(walked).toEqual(expected);
        // Every page but a first one longer than the timeline (the SQL pull) is the timeline's or its parts'.
        expect(answered).toBe(limit + 1 > TL_CAP ? pages - 1 : pages);
        const names = await partNames(viewer.id);
        expect(names.length).toBeGreaterThanOrEqual(2); // the walk crossed at least one seam
        const held = Number(await redis.hget(key(CacheKeys.timelineParts(viewer.id)), 'n'));
        expect(held).toBeGreaterThanOrEqual(expected.length - TL_CAP);
        expect(held).toBeLessThan(3 * expected.length);
      },
    );

    it('random cursors (with and without id_before) agree with the SQL pull, from the parts, with no load', async () => {
      const loads = jest.spyOn(repo, 'followingKeys');
      const times = [...new Set(videos.map((v) => v.create_time))];
      let answered = 0;
      for (let i = 0; i < 60; i++) {
        const v = videos[(i * 37) % videos.length];
        const latestTime = i % 5 === 0 ? times[i % times.length] : v.create_time;
        const idBefore = i % 5 === 0 ? 0 : v.id + (i % 3);
        const limit = LIMITS[i % LIMITS.length];
        const sql = await repo.following(viewer.id, limit + 1, latestTime, idBefore);
        const tl = await timelines.page(viewer.id, limit + 1, latestTime, idBefore);
        expect(tl && ids(tl)).toEqual(ids(sql));
        answered++;
      }
      expect(answered).toBe(60);
      expect(loads).not.toHaveBeenCalled();
      loads.mockRestore();
    });

    it('a part that overlaps the one below it is cut at its top; a page across the seam chains them', async () => {
      const reader = await registerAndLogin(t, 'dpc');
      await follow(t, reader.id, authors.slice(0, 5));
      expect(await timelines.page(reader.id, 2, 0, 0)).toBeDefined(); // its timeline, built
      const all = await repo.followingKeys(reader.id, 1000, base + 1, 0);
      const token = await tokenOf(reader.id);
      // Lower part: entries 100..139 below the cursor at entry 99; upper part from entry 79, 40 entries (overlapping 20).
      const lowCursor = all[99];
      expect(
        await writePart(
          store,
          reader.id,
          token,
          lowCursor.time,
          lowCursor.id,
          all.slice(100, 140),
          false,
          1e6,
        ),
      ).toBe(true);
      const highCursor = all[79];
      expect(
        await writePart(
          store,
          reader.id,
          token,
          highCursor.time,
          highCursor.id,
          all.slice(80, 120),
          false,
          1e6,
        ),
      ).toBe(true);
      const names = (await partNames(reader.id)).sort();
      expect(names).toEqual([
        `${partKey(lowCursor.time, lowCursor.id)}|${partKey(all[139].time, all[139].id)}`,
        `${partKey(highCursor.time, highCursor.id)}|${partKey(lowCursor.time, lowCursor.id)}`,
      ]);
      // The upper part holds entries 80..99 only.
      const upper = await redis.hget(key(CacheKeys.timelineParts(reader.id)), names[1]);
      expect(upper?.length).toBe(20 * 30);
      // Across the seam: 30 from entry 85 down (through 99, then 100..114), one read, both parts.
      const read = await readParts(store, reader.id, 30, all[85].time, all[85].id);
      expect(read?.kind).toBe('ok');
      if (read?.kind !== 'ok') return;
      expect(read.parts).toHaveLength(2);
      expect(read.entries).toEqual(all.slice(86, 116));
      // Past the lower part's end: a miss (its low is an entry, not the first video).
      expect((await readParts(store, reader.id, 30, all[125].time, all[125].id))?.kind).toBe('miss');
      // A cursor inside a millisecond, without id_before: strictly before that millisecond.
      const tie = all.findIndex((e, i) => i > 80 && e.time !== all[i - 1].time);
      const noId = await readParts(store, reader.id, 5, all[tie - 1].time, 0);
      expect(noId?.kind === 'ok' && noId.entries).toEqual(all.slice(tie, tie + 5));
    });

    it('a part reaching the first video answers any page below its top, however short', async () => {
      const reader = await registerAndLogin(t, 'dpf');
      await follow(t, reader.id, [authors[0]]);
      expect(await timelines.page(reader.id, 2, 0, 0)).toBeDefined();
      const all = await repo.followingKeys(reader.id, 1000, base + 1, 0);
      expect(all.length).toBeLessThan(TIMELINE_PART); // one part holds them all
      const cursor = all[TL_CAP + 2];
      const page = await timelines.page(reader.id, 51, cursor.time, cursor.id);
      expect(page && ids(page)).toEqual(all.slice(TL_CAP + 3, TL_CAP + 54).map((e) => e.id));
      const [name] = await partNames(reader.id);
      expect(name.endsWith('|')).toBe(true);
      const last = all[all.length - 2];
      const tail = await timelines.page(reader.id, 51, last.time, last.id);
      expect(tail && ids(tail)).toEqual([all[all.length - 1].id]);
    });

    it('a part whose load began before a follow is refused; parts outlive a timeline rebuild; the directory evicted alone is relisted by the next load; the hash evicted alone loses every part', async () => {
      const reader = await registerAndLogin(t, 'dpt');
      const [other] = await insertAccounts(t, 1, 'dpto');
      await follow(t, reader.id, authors.slice(0, 2));
      const all = await repo.followingKeys(reader.id, 1000, base + 1, 0);
      const old = await tokenOf(reader.id);
      // A follow answered meanwhile: it dropped the parts, so the load read before it is refused.
      const follows = await t.http
        .post('/social/follow')
        .set('authorization', `Bearer ${reader.token}`)
        .send({ vlogger_id: other });
      expect(follows.status).toBe(200);
      expect(
        await writePart(store, reader.id, old, all[20].time, all[20].id, all.slice(21, 40), false, 1e6),
      ).toBe(false);
      expect(await partNames(reader.id)).toEqual([]);
      const token = await tokenOf(reader.id);
      expect(token).not.toBe(old);
      expect(
        await writePart(store, reader.id, token, all[20].time, all[20].id, all.slice(21, 40), false, 1e6),
      ).toBe(true);
      // The timeline dropped and rebuilt (its TTL, a version bump): the parts still answer.
      await redis.del(key(CacheKeys.timelineMeta(reader.id)), key(CacheKeys.timeline(reader.id)));
      expect(await timelines.page(reader.id, 2, 0, 0)).toBeDefined();
      const kept = await readParts(store, reader.id, 5, all[25].time, all[25].id);
      expect(kept?.kind === 'ok' && kept.entries).toEqual(all.slice(26, 31));
      // The directory evicted alone: the part is unreachable (a miss) until a load writes it again,
      // which lists it again (not refused as held), its entries counted once.
      const counted = await redis.hget(key(CacheKeys.timelineParts(reader.id)), 'n');
      await redis.del(key(CacheKeys.timelinePartsDir(reader.id)));
      expect((await readParts(store, reader.id, 5, all[25].time, all[25].id))?.kind).toBe('miss');
      expect(
        await writePart(store, reader.id, token, all[20].time, all[20].id, all.slice(21, 40), false, 1e6),
      ).toBe(true);
      const relisted = await readParts(store, reader.id, 5, all[25].time, all[25].id);
      expect(relisted?.kind === 'ok' && relisted.entries).toEqual(all.slice(26, 31));
      expect(await redis.hget(key(CacheKeys.timelineParts(reader.id)), 'n')).toBe(counted);
      // The hash gone (evicted) with the directory left: a miss, and the directory goes too.
      await redis.del(key(CacheKeys.timelineParts(reader.id)));
      expect((await readParts(store, reader.id, 5, all[25].time, all[25].id))?.kind).toBe('miss');
      expect(await partNames(reader.id)).toEqual([]);
      // Over the bound: refused.
      const fresh = await tokenOf(reader.id);
      expect(
        await writePart(store, reader.id, fresh, all[20].time, all[20].id, all.slice(21, 40), false, 10),
      ).toBe(false);
      // The next page past the timeline loads a part again and equals the SQL pull.
      const page = await timelines.page(reader.id, 8, all[25].time, all[25].id);
      expect(page && ids(page)).toEqual(ids(await repo.following(reader.id, 8, all[25].time, all[25].id)));
      expect((await partNames(reader.id)).length).toBe(1);
    });

    it('an empty part (the end of the feed) is dropped with the others, its count right; a cursor id past 15 digits is not kept', async () => {
      const reader = await registerAndLogin(t, 'dpe');
      await follow(t, reader.id, [authors[1]]);
      const all = await repo.followingKeys(reader.id, 1000, base + 1, 0);
      const token = await tokenOf(reader.id);
      const oldest = all[all.length - 1];
      // Nothing below the oldest video: an empty part down to the first video; and a part above it.
      expect(await writePart(store, reader.id, token, oldest.time, oldest.id, [], true, 1e6)).toBe(true);
      expect(
        await writePart(store, reader.id, token, all[5].time, all[5].id, all.slice(6, 20), false, 1e6),
      ).toBe(true);
      const names = await partNames(reader.id);
      expect(names).toHaveLength(2);
      await dropParts(store, reader.id, names.sort()); // the empty part first
      expect(await partNames(reader.id)).toEqual([]);
      expect(await redis.hget(key(CacheKeys.timelineParts(reader.id)), 'n')).toBe('0');
      // A cursor id no video can have (16 digits): the SQL pull, nothing kept.
      expect(await timelines.page(reader.id, 5, all[50].time, 1e15)).toBeUndefined();
      expect(await partNames(reader.id)).toEqual([]);
      expect(
        ids(await feed.followingRows(reader.id, { limit: 4, latestTime: all[50].time, idBefore: 1e15 })),
      ).toEqual(ids(await repo.following(reader.id, 5, all[50].time, 1e15)));
    });

    it('a cursor less than a minute old is not answered from parts (a late commit may still land below it)', async () => {
      const reader = await registerAndLogin(t, 'dps');
      const [recentAuthor] = await insertAccounts(t, 1, 'dpsa');
      await follow(t, reader.id, [...authors.slice(0, 5), recentAuthor]);
      // 15 videos in the last 20 s fill the timeline (10): a cursor 30 s ago is below its floor.
      await insertVideos(
        t,
        Array.from({ length: 15 }, (_, i) => ({
          author_id: recentAuthor,
          create_time: Date.now() - 20_000 + i * 1000,
          likes_count: 0,
          popularity: 0,
        })),
      );
      expect(await timelines.page(reader.id, 2, 0, 0)).toBeDefined();
      const recent = Date.now() - 30_000;
      expect(await timelines.page(reader.id, 5, recent, 0)).toBeUndefined();
      expect(await partNames(reader.id)).toEqual([]);
      expect(ids(await feed.followingRows(reader.id, { limit: 4, latestTime: recent, idBefore: 0 }))).toEqual(
        ids(await repo.following(reader.id, 5, recent, 0)),
      );
      // Past the settling minute, the same kind of page is a part's.
      const settled = await timelines.page(reader.id, 5, base - 1000, 0);
      expect(settled && ids(settled)).toEqual(ids(await repo.following(reader.id, 5, base - 1000, 0)));
      expect((await partNames(reader.id)).length).toBe(1);
    });

    it('read-your-writes on deep pages: a follow, a delete and an unfollow show on the next deep page', async () => {
      const author = await registerAndLogin(t, 'dpa');
      const reader = await registerAndLogin(t, 'dpr');
      await follow(t, reader.id, authors.slice(0, 2));
      const deep = { latestTime: base - 3000, idBefore: 0 };
      const page = timelinePageChecked(t, reader.id, deep);
      expect(await timelines.page(reader.id, 2, 0, 0)).toBeDefined();
      const [old, kept] = await insertVideos(t, [
        { author_id: author.id, create_time: base - 3500, likes_count: 0, popularity: 0 },
        { author_id: author.id, create_time: base - 3600, likes_count: 0, popularity: 0 },
      ]);
      expect(await page()).not.toContain(old.id);
      expect((await partNames(reader.id)).length).toBe(1);

      // A follow answered: the parts dropped with the timeline; the next deep page has the author's old video.
      expect((await postAs(t, '/social/follow', reader.token, { vlogger_id: author.id })).status).toBe(200);
      expect(await partNames(reader.id)).toEqual([]);
      expect(await page()).toEqual(expect.arrayContaining([old.id, kept.id]));

      // A delete answered: gone from the next deep page (its detail entry gone, the primary asked).
      expect((await postAs(t, '/video/delete', author.token, { id: old.id })).status).toBe(200);
      const first = await page();
      if (first !== undefined) expect(first).not.toContain(old.id);
      // The parts that page read were dropped, their entries off the count.
      const hash = await redis.hgetall(key(CacheKeys.timelineParts(reader.id)));
      const held = Object.entries(hash).filter(([name]) => name.includes('|'));
      expect(Number(hash.n)).toBe(held.reduce((sum, [, part]) => sum + part.length / 30, 0));
      expect(held.some(([, part]) => part.includes(String(old.id).padStart(15, '0')))).toBe(false);
      const afterDelete = await page();
      expect(afterDelete).toBeDefined();
      expect(afterDelete).not.toContain(old.id);
      expect(afterDelete).toContain(kept.id);

      // An unfollow answered: the author's videos are gone from the next deep page.
      expect((await postAs(t, '/social/unfollow', reader.token, { vlogger_id: author.id })).status).toBe(200);
      expect(await partNames(reader.id)).toEqual([]);
      expect(ids(await feed.followingRows(reader.id, { limit: 7, ...deep }))).not.toContain(kept.id);
      const afterUnfollow = await page();
      expect(afterUnfollow).toBeDefined();
      expect(afterUnfollow).not.toContain(kept.id);
    });
  });
}
