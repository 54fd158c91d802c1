import { CacheAside } from '@app/cache';
import { LikedSets } from '@app/like';
import { startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';
import { insertVideos, registerAndLogin } from './feed-fixtures';

interface Item {
  id: number;
  is_liked: boolean;
}

/**
 * A viewer's page sends its liked lookup along with the page's own read, for the ids that page
 * listed last time (FeedService.viewerJson). When the page lists other ids now, `is_liked` must
 * still be the lookup of the ids served: these pages change between two reads of one viewer, and
 * the video that came in is one the viewer likes.
 */
describe.each(PROFILES)('is_liked looked up ahead of the page (%s)', (profile) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp(profile);
  });
  afterAll(async () => {
    await t?.close();
  });

  const post = (route: string, token: string, body: object) =>
    t.http.post(route).set('authorization', `Bearer ${token}`).send(body);
  const items = async (route: string, token: string, body: object): Promise<Item[]> => {
    const res = await post(route, token, body);
    expect(res.status).toBe(200);
    return res.body.video_list as Item[];
  };
  const liked = (list: Item[]): number[] => list.filter((i) => i.is_liked).map((i) => i.id);

  it('following: a followed author whose video the viewer likes shows it liked on the next page', async () => {
    const viewer = await registerAndLogin(t, 'ahead');
    const [first, second] = [await registerAndLogin(t, 'auth'), await registerAndLogin(t, 'auth')];
    const now = Date.now();
    const [a1, a2, b1] = await insertVideos(t, [
      { author_id: first.id, create_time: now - 3000, likes_count: 0, popularity: 0 },
      { author_id: first.id, create_time: now - 2000, likes_count: 0, popularity: 0 },
      { author_id: second.id, create_time: now - 1000, likes_count: 0, popularity: 0 },
    ]);
    expect((await post('/like/like', viewer.token, { video_id: b1.id })).status).toBe(200);
    expect((await post('/social/follow', viewer.token, { vlogger_id: first.id })).status).toBe(200);
    const before = await items('/feed/listByFollowing', viewer.token, { limit: 10 });
    expect(before.map((i) => i.id)).toEqual([a2.id, a1.id]);
    expect(liked(before)).toEqual([]);

    expect((await post('/social/follow', viewer.token, { vlogger_id: second.id })).status).toBe(200);
    const after = await items('/feed/listByFollowing', viewer.token, { limit: 10 });
    expect(after.map((i) => i.id)).toEqual([b1.id, a2.id, a1.id]);
    expect(liked(after)).toEqual([b1.id]);
  });

  it('likes count: the video the viewer just liked moves into the page and shows liked', async () => {
    const viewer = await registerAndLogin(t, 'ahead');
    const author = await registerAndLogin(t, 'auth');
    // Above every other video of the suite; equal counts, so the tie-break (id DESC) puts `x`, the
    // first inserted, last: outside a page of three until the viewer's like lifts it to the top.
    const [x, ...rest] = await insertVideos(
      t,
      Array.from({ length: 4 }, () => ({
        author_id: author.id,
        create_time: Date.now(),
        likes_count: 1000,
        popularity: 0,
      })),
    );
    const body = { limit: 3 };
    const before = await items('/feed/listLikesCount', viewer.token, body);
    expect(before.map((i) => i.id)).toEqual(rest.map((v) => v.id).reverse());
    expect(liked(before)).toEqual([]);

    expect((await post('/like/like', viewer.token, { video_id: x.id })).status).toBe(200);
    const after = await items('/feed/listLikesCount', viewer.token, body);
    expect(after.map((i) => i.id)).toEqual([
      x.id,
      ...rest
        .map((v) => v.id)
        .reverse()
        .slice(0, 2),
    ]);
    expect(liked(after)).toEqual([x.id]);
  });

  if (profile === 'full') {
    it("the lookup is asked before the page's cached copy has answered (one Redis batch for both)", async () => {
      const viewer = await registerAndLogin(t, 'ahead');
      const author = await registerAndLogin(t, 'auth');
      await insertVideos(t, [
        { author_id: author.id, create_time: Date.now(), likes_count: 0, popularity: 0 },
      ]);
      expect((await post('/social/follow', viewer.token, { vlogger_id: author.id })).status).toBe(200);
      const lookups = jest.spyOn(t.app.get(LikedSets), 'likedAmong');
      const cache = t.app.get(CacheAside);
      const read = cache.getOrLoadRaw.bind(cache);
      /** How many liked lookups had been asked when each page read answered. */
      const askedWhenAnswered: number[] = [];
      const reads = jest.spyOn(cache, 'getOrLoadRaw').mockImplementation(async (...args) => {
        const raw = await read(...args);
        askedWhenAnswered.push(lookups.mock.calls.length);
        return raw;
      });
      try {
        await items('/feed/listByFollowing', viewer.token, { limit: 10 }); // the page's ids are now known
        lookups.mockClear();
        askedWhenAnswered.length = 0;
        const page = await items('/feed/listByFollowing', viewer.token, { limit: 10 });
        expect(page).toHaveLength(1);
        expect(askedWhenAnswered).toEqual([1]);
        expect(lookups).toHaveBeenCalledTimes(1);
      } finally {
        reads.mockRestore();
        lookups.mockRestore();
      }
    });
  }
});
