import { CacheKeys } from '@app/cache';
import { FeedRepository, FeedService, TagIndex, timelineMember as member } from '@app/feed';
import { AuthorIndex, toVideoView, VideoRepository, VideoService, type VideoView } from '@app/video';
import { startApp, TestApp } from '../helpers/test-app';
import { PROFILES, redisClient } from '../helpers/test-env';
import { waitFor } from '../helpers/wait';
import {
  byTimeDesc,
  FixtureVideo,
  insertAccounts,
  insertVideos,
  registerAndLogin,
  shownRows,
  tagVideos,
  waitForKey,
} from './feed-fixtures';

const LIMITS = [1, 7, 10, 50];
/** Small bounds, so pages cross the indexes' floors. */
const AUTHOR_CAP = 12;
const TAG_CAP = 40;

jest.setTimeout(60_000);

/** What listByAuthorID shows of a video, from the SQL rows and from the index path alike. */
const shownViews = (views: VideoView[]) =>
  views.map((v) => ({
    id: v.id,
    author_id: v.author_id,
    username: v.username,
    title: v.title,
    create_time: v.create_time,
    likes_count: v.likes_count,
    comments_count: v.comments_count,
    popularity: v.popularity,
    tags: v.tags,
  }));

/**
 * The author and tag indexes in Redis (libs/video/src/author-index.ts, libs/feed/src/tag-index.ts):
 * every listByAuthorID and listByTag page they answer equals the SQL query item for item (ties and
 * the length bounds included), and a publish, a delete, a like and a rename reach the pages at
 * once. Redis only: without it both are the SQL queries, which the video and tag suites walk on
 * both profiles (and, with Redis, through these indexes).
 */
if (PROFILES.includes('full')) {
  describe('author and tag indexes (full, no broker)', () => {
    let t: TestApp;
    let videoService: VideoService;
    let videoRepo: VideoRepository;
    let feed: FeedService;
    let feedRepo: FeedRepository;
    let authorIndex: AuthorIndex;
    let tagIndex: TagIndex;
    let author: { id: number; token: string };
    /** 30 videos of one fixture author; 120 tagged videos on 6 milliseconds (ties on every page). */
    let authorId: number;
    let tagged: FixtureVideo[];
    /** The fixtures tagged `atiwalk`. */
    const walkIds = new Set<number>();
    const redis = redisClient();
    const key = (k: string): string => (t.testEnv.redisPrefix ?? '') + k;
    const post = (path: string, token: string, body: object) =>
      t.http.post(path).set('authorization', `Bearer ${token}`).send(body);
    const publish = (title: string) =>
      post('/video/publish', author.token, {
        title,
        play_url: 'https://cdn.example.com/v.mp4',
        cover_url: 'https://cdn.example.com/c.jpg',
      });
    const sqlByAuthor = async (id: number, idBefore: number, limit: number) =>
      (await videoRepo.listByAuthor(id, idBefore || undefined, limit)).map((v) => v.id);

    beforeAll(async () => {
      t = await startApp('full', {
        env: { AUTHOR_INDEX_MAX_LENGTH: String(AUTHOR_CAP), TAG_INDEX_MAX_LENGTH: String(TAG_CAP) },
      });
      videoService = t.app.get(VideoService);
      videoRepo = t.app.get(VideoRepository);
      feed = t.app.get(FeedService);
      feedRepo = t.app.get(FeedRepository);
      authorIndex = t.app.get(AuthorIndex);
      tagIndex = t.app.get(TagIndex);
      author = await registerAndLogin(t, 'ati');
      const authors = await insertAccounts(t, 4, 'atiauthor');
      authorId = authors[0];
      const base = Date.now() - 60_000;
      tagged = await insertVideos(
        t,
        Array.from({ length: 120 }, (_, i) => ({
          author_id: i < 30 ? authorId : authors[1 + (i % 3)],
          create_time: base - (i % 6) * 1000,
          likes_count: i % 4,
          popularity: i % 4,
        })),
      );
      const tagsFor = (i: number) => [
        ...(i % 3 !== 2 ? ['atiwalk'] : []),
        ...(i % 4 === 0 ? ['atiother'] : []),
      ];
      await tagVideos(t, tagged, tagsFor);
      tagged.forEach((v, i) => tagsFor(i).includes('atiwalk') && walkIds.add(v.id));
    });
    afterAll(async () => {
      redis.disconnect();
      await t?.close();
    });

    it.each(LIMITS)(
      'listByAuthorID: every page equals the SQL query, the length bound included (limit %i)',
      async (limit) => {
        const walked: number[] = [];
        let idBefore = 0;
        let fromIndex = 0;
        await authorIndex.warm(authorId);
        for (;;) {
          const sql = await videoRepo.listByAuthor(authorId, idBefore || undefined, limit);
          if ((await authorIndex.ids(authorId, limit, idBefore)) !== undefined) fromIndex++;
          const page = await videoService.listByAuthor(authorId, idBefore || undefined, limit);
          // The reference rows through TypeORM and toVideoView: a mapping apart from both paths'.
          const reference = (await videoRepo.findByIds(sql.map((v) => v.id))).map(toVideoView);
          expect(shownViews(page)).toEqual(shownViews(reference));
          expect(shownViews(sql)).toEqual(shownViews(reference));
          walked.push(...page.map((v) => v.id));
          if (page.length < limit) break;
          idBefore = page[page.length - 1].id;
        }
        const expected = tagged.filter((v) => v.author_id === authorId).map((v) => v.id);
        expect(walked).toEqual(expected.sort((a, b) => b - a));
        // The pages within the newest AUTHOR_CAP ids come from the index (and, for a limit above
        // the bound, none); the rest from SQL.
        expect(fromIndex).toBe(Math.floor(AUTHOR_CAP / limit));
        expect(await redis.zcard(key(CacheKeys.authorIndex(authorId)))).toBe(AUTHOR_CAP);
      },
    );

    it('listByAuthorID over HTTP: a random cursor agrees with the SQL query; an author with no videos gets []', async () => {
      const ids = tagged.filter((v) => v.author_id === authorId).map((v) => v.id);
      for (let i = 0; i < 20; i++) {
        const idBefore = i % 4 === 0 ? 0 : ids[(i * 7) % ids.length] + (i % 2);
        const limit = LIMITS[i % LIMITS.length];
        const res = await t.http
          .post('/video/listByAuthorID')
          .send({ author_id: authorId, limit, id_before: idBefore });
        expect(res.status).toBe(200);
        expect((res.body as VideoView[]).map((v) => v.id)).toEqual(
          await sqlByAuthor(authorId, idBefore, limit),
        );
      }
      const none = await t.http.post('/video/listByAuthorID').send({ author_id: author.id + 1_000_000 });
      expect(none.status).toBe(200);
      expect(none.body).toEqual([]);
    });

    it('a publish is in its author index and tag index before it answers, and on the first page; a delete leaves both at once', async () => {
      // Both indexes built before the publish (a publish only pushes into indexes that exist).
      await authorIndex.warm(author.id);
      await tagIndex.warm('atifresh');
      const res = await publish('fresh #atifresh');
      expect(res.status).toBe(200);
      const id = res.body.id as number;
      expect(await redis.zscore(key(CacheKeys.authorIndex(author.id)), member(id))).not.toBeNull();
      expect(await redis.zscore(key(CacheKeys.tagIndex('atifresh')), member(id))).not.toBeNull();
      const list = await t.http.post('/video/listByAuthorID').send({ author_id: author.id }).expect(200);
      expect(list.body[0]).toMatchObject({ id, title: 'fresh #atifresh', tags: ['atifresh'] });
      const byTag = await t.http.post('/feed/listByTag').send({ tag_name: '#atifresh' }).expect(200);
      expect(byTag.body.video_list.map((v: { id: number }) => v.id)).toEqual([id]);

      expect((await post('/video/delete', author.token, { id })).status).toBe(200);
      expect(await redis.zscore(key(CacheKeys.authorIndex(author.id)), member(id))).toBeNull();
      expect(await redis.zscore(key(CacheKeys.tagIndex('atifresh')), member(id))).toBeNull();
      const after = await t.http.post('/video/listByAuthorID').send({ author_id: author.id }).expect(200);
      expect(after.body.map((v: { id: number }) => v.id)).not.toContain(id);
      const tagAfter = await t.http.post('/feed/listByTag').send({ tag_name: 'atifresh' }).expect(200);
      expect(tagAfter.body.video_list).toEqual([]);
    });

    it('a video deleted behind their back is removed from both indexes, and those pages come from SQL', async () => {
      // Fixture 24: the author's, within its newest 12 ids, tagged, on the newest millisecond.
      const victim = tagged[24];
      const victimId = victim.id;
      expect(walkIds.has(victimId)).toBe(true);
      await tagIndex.warm('atiwalk');
      expect(await redis.zscore(key(CacheKeys.authorIndex(authorId)), member(victimId))).not.toBeNull();
      expect(await redis.zscore(key(CacheKeys.tagIndex('atiwalk')), member(victimId))).not.toBeNull();
      await t.sql('DELETE FROM video_tags WHERE video_id = ?', [victimId]);
      await t.sql('DELETE FROM videos WHERE id = ?', [victimId]);
      await redis.del(key(CacheKeys.videoDetail(victimId)));

      const page = await videoService.listByAuthor(authorId, undefined, 10);
      expect(page.map((v) => v.id)).toEqual(await sqlByAuthor(authorId, 0, 10));
      expect(page.map((v) => v.id)).not.toContain(victimId);
      expect(await redis.zscore(key(CacheKeys.authorIndex(authorId)), member(victimId))).toBeNull();

      const q = { limit: 5, latestTime: victim.create_time, idBefore: victimId + 1 };
      const rows = await feed.tagRows('atiwalk', q);
      expect(rows.map((r) => Number(r.id))).toEqual(
        (await feedRepo.byTag('atiwalk', 6, q.latestTime, q.idBefore)).map((r) => Number(r.id)),
      );
      expect(await redis.zscore(key(CacheKeys.tagIndex('atiwalk')), member(victimId))).toBeNull();
      tagged = tagged.filter((v) => v.id !== victimId);
    });

    it.each(LIMITS)(
      'listByTag: every page equals the SQL query, ties and the length bound included (limit %i)',
      async (limit) => {
        const walked: number[] = [];
        let latestTime = 0;
        let idBefore = 0;
        let fromIndex = 0;
        // A fresh index of the newest TAG_CAP (an earlier test removed one of them).
        await redis.del(key(CacheKeys.tagIndex('atiwalk')), key(CacheKeys.tagIndexMeta('atiwalk')));
        await tagIndex.warm('atiwalk');
        for (;;) {
          const sql = await feedRepo.byTag('atiwalk', limit + 1, latestTime, idBefore);
          if ((await tagIndex.ids('atiwalk', limit + 1, latestTime, idBefore)) !== undefined) fromIndex++;
          const rows = await feed.tagRows('atiwalk', { limit, latestTime, idBefore });
          expect(shownRows(rows)).toEqual(shownRows(sql));
          walked.push(...sql.slice(0, limit).map((r) => Number(r.id)));
          if (sql.length <= limit) break;
          latestTime = Number(sql[limit - 1].create_time);
          idBefore = Number(sql[limit - 1].id);
        }
        const withTag = tagged.filter((v) => walkIds.has(v.id)).sort(byTimeDesc);
        expect(walked).toEqual(withTag.map((v) => v.id));
        expect(fromIndex).toBe(Math.floor((TAG_CAP - 1) / limit));
        expect(await redis.zcard(key(CacheKeys.tagIndex('atiwalk')))).toBe(TAG_CAP);
      },
    );

    it("a like's count and an author's rename show on the next page of both lists (the items' entries are dropped)", async () => {
      const res = await publish('to like #atilike');
      const id = res.body.id as number;
      const authorItem = async () =>
        (
          (await t.http.post('/video/listByAuthorID').send({ author_id: author.id })).body as VideoView[]
        ).find((v) => v.id === id);
      const tagItem = async () =>
        (
          (await t.http.post('/feed/listByTag').send({ tag_name: 'atilike' })).body.video_list as {
            id: number;
            likes_count: number;
            author: { username: string };
          }[]
        ).find((v) => v.id === id);
      expect(await authorItem()).toMatchObject({ likes_count: 0 });
      expect(await tagItem()).toMatchObject({ likes_count: 0 });
      const liker = await registerAndLogin(t, 'atiliker');
      expect((await post('/like/like', liker.token, { video_id: id })).status).toBe(200);
      const deadline = Date.now() + 3000;
      while ((await authorItem())?.likes_count !== 1 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((await authorItem())?.likes_count).toBe(1);
      expect((await tagItem())?.likes_count).toBe(1);
      const renamed = `${(await authorItem())?.username ?? ''}_r`;
      expect((await post('/account/rename', author.token, { new_username: renamed })).status).toBe(200);
      expect(await authorItem()).toMatchObject({ username: renamed });
      expect(await tagItem()).toMatchObject({ author: { username: renamed } });
    });

    it('without a usable index (its keys gone) the pages are the SQL queries, and the indexes are rebuilt', async () => {
      await redis.del(key(CacheKeys.authorIndex(authorId)), key(CacheKeys.authorIndexMeta(authorId)));
      await redis.del(key(CacheKeys.tagIndex('atiwalk')), key(CacheKeys.tagIndexMeta('atiwalk')));
      const page = await videoService.listByAuthor(authorId, undefined, 10);
      expect(page.map((v) => v.id)).toEqual(await sqlByAuthor(authorId, 0, 10));
      const q = { limit: 10, latestTime: 0, idBefore: 0 };
      expect((await feed.tagRows('atiwalk', q)).map((r) => Number(r.id))).toEqual(
        (await feedRepo.byTag('atiwalk', 11, 0, 0)).map((r) => Number(r.id)),
      );
      // Those reads started the builds (off their path): the indexes are back shortly after.
      await waitForKey(redis, key(CacheKeys.authorIndexMeta(authorId)));
      await waitForKey(redis, key(CacheKeys.tagIndexMeta('atiwalk')));
    });

    it("a page from SQL caches its videos' getDetail entries, but not one a like changed during its read", async () => {
      const ids = await sqlByAuthor(authorId, 0, 5);
      const fan = await registerAndLogin(t, 'atifan');
      // The page misses its index; its read is held until after a like of its first video.
      await redis.del(key(CacheKeys.authorIndex(authorId)), key(CacheKeys.authorIndexMeta(authorId)));
      await redis.del(...ids.map((id) => key(CacheKeys.videoDetail(id))));
      const original = videoRepo.listByAuthor.bind(videoRepo);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let read!: () => void;
      const hasRead = new Promise<void>((r) => (read = r));
      const spy = jest
        .spyOn(videoRepo, 'listByAuthor')
        .mockImplementationOnce(async (...args: Parameters<VideoRepository['listByAuthor']>) => {
          const rows = await original(...args);
          read();
          await gate;
          return rows;
        });
      try {
        // Sent now (a supertest request goes out when it is awaited).
        const page = Promise.resolve(
          t.http.post('/video/listByAuthorID').send({ author_id: authorId, limit: 5 }).expect(200),
        );
        await hasRead;
        await post('/like/like', fan.token, { video_id: ids[0] }).expect(200);
        release();
        const body = (await page).body as VideoView[];
        expect(body.map((v) => v.id)).toEqual(ids);
        expect(spy).toHaveBeenCalled();
      } finally {
        spy.mockRestore();
      }
      // The others' entries are there, as the page showed them; the liked one's is not.
      const entries = await waitForEntries(ids.slice(1));
      expect(entries.map((e) => (JSON.parse(e) as VideoView).id)).toEqual(ids.slice(1));
      expect(await redis.get(key(CacheKeys.videoDetail(ids[0])))).toBeNull();
      const detail = await t.http.post('/video/getDetail').send({ id: ids[0] }).expect(200);
      expect(detail.body.likes_count).toBe(tagged.find((v) => v.id === ids[0])!.likes_count + 1);
    });

    /** The entries' texts once every one of `ids` has one (the page's fills are not waited for). */
    const waitForEntries = async (ids: number[]): Promise<string[]> => {
      const got = await waitFor(
        () => redis.mget(...ids.map((id) => key(CacheKeys.videoDetail(id)))),
        (entries) => entries.every((e) => e !== null),
        15_000,
      );
      if (got.some((e) => e === null)) throw new Error('entries not filled');
      return got as string[];
    };
  });
}
