import { CacheAside } from '@app/cache';
import { LatestIndex, TagIndex } from '@app/feed';
import { LikedSets } from '@app/like';
import { LikesCountIndex, VideoDetailCache } from '@app/video';
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
 * the video that came in is one the viewer likes. A deeper page (following, latest, tag, likes
 * count) has no such guess: its lookup leaves with the read of its items' entries, for the ids its
 * timeline or index gave, and a big author's videos merged in afterwards are not among them.
 */
describe.each(PROFILES)('is_liked looked up ahead of the page (%s)', (profile) => {
  let t: TestApp;

  beforeAll(async () => {
    // An author with two followers is past the fan-out: merged into its followers' pages at read.
    t = await startApp(profile, { env: { FANOUT_MAX_FOLLOWERS: '1' } });
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
  const publish = async (token: string, title: string): Promise<number> => {
    const res = await post('/video/publish', token, {
      title,
      play_url: 'https://cdn.example.com/v.mp4',
      cover_url: 'https://cdn.example.com/c.jpg',
    });
    expect(res.status).toBe(200);
    return res.body.id as number;
  };

  /**
   * Spies on the viewer's liked lookups and on `target[method]` (a read the page waits for):
   * `askedWhenAnswered` gets, each time that read answers, how many lookups had been asked by then.
   */
  const watchLookups = (target: object, method: string) => {
    const lookups = jest.spyOn(t.app.get(LikedSets), 'likedAmong');
    const obj = target as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const original = obj[method].bind(target);
    const askedWhenAnswered: number[] = [];
    const reads = jest.spyOn(obj, method).mockImplementation(async (...args: unknown[]) => {
      const out = await original(...args);
      askedWhenAnswered.push(lookups.mock.calls.length);
      return out;
    });
    return {
      lookups,
      askedWhenAnswered,
      reset: (): void => {
        lookups.mockClear();
        askedWhenAnswered.length = 0;
      },
      restore: (): void => {
        reads.mockRestore();
        lookups.mockRestore();
      },
    };
  };

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

  it("a deeper following page: is_liked of the timeline's items and of a big author's merged in", async () => {
    const viewer = await registerAndLogin(t, 'ahead');
    const fan = await registerAndLogin(t, 'fan');
    const [small, big] = [await registerAndLogin(t, 'auth'), await registerAndLogin(t, 'big')];
    for (const [who, whom] of [
      [viewer, small],
      [viewer, big],
      [fan, big],
    ]) {
      expect((await post('/social/follow', who.token, { vlogger_id: whom.id })).status).toBe(200);
    }
    const s1 = await publish(small.token, 's1');
    const b1 = await publish(big.token, 'b1');
    // The first page builds the timeline; then a video of each: the small author's is pushed into
    // it, the big author's (two followers) is not, and is merged into the viewer's pages at read.
    await items('/feed/listByFollowing', viewer.token, { limit: 10 });
    const s2 = await publish(small.token, 's2');
    const b2 = await publish(big.token, 'b2');
    for (const id of [s1, b2]) {
      expect((await post('/like/like', viewer.token, { video_id: id })).status).toBe(200);
    }
    // A deeper page (a cursor above every video) is read from the timeline, not the page cache.
    const deep = { limit: 10, latest_time: Date.now() + 60_000, id_before: 0 };
    for (let i = 0; i < 2; i++) {
      const page = await items('/feed/listByFollowing', viewer.token, deep);
      expect(page.map((v) => v.id)).toEqual([b2, s2, b1, s1]);
      expect(liked(page)).toEqual([b2, s1]);
    }
  });

  if (profile === 'full') {
    it("a deeper following page: the lookup is asked before its items' entries have answered", async () => {
      const viewer = await registerAndLogin(t, 'ahead');
      const author = await registerAndLogin(t, 'auth');
      const now = Date.now();
      const [v1, v2] = await insertVideos(t, [
        { author_id: author.id, create_time: now - 2000, likes_count: 0, popularity: 0 },
        { author_id: author.id, create_time: now - 1000, likes_count: 0, popularity: 0 },
      ]);
      expect((await post('/social/follow', viewer.token, { vlogger_id: author.id })).status).toBe(200);
      expect((await post('/like/like', viewer.token, { video_id: v1.id })).status).toBe(200);
      await items('/feed/listByFollowing', viewer.token, { limit: 10 }); // builds the timeline
      // Each time the items' entries (one MGET) answer.
      const { lookups, askedWhenAnswered, reset, restore } = watchLookups(
        t.app.get(VideoDetailCache),
        'entries',
      );
      try {
        // A new cursor each time: no ids known for it from an earlier read.
        for (const latest_time of [now + 60_000, now + 60_001]) {
          reset();
          const page = await items('/feed/listByFollowing', viewer.token, {
            limit: 10,
            latest_time,
            id_before: 0,
          });
          expect(page.map((i) => i.id)).toEqual([v2.id, v1.id]);
          expect(liked(page)).toEqual([v1.id]);
          expect(askedWhenAnswered).toEqual([1]);
          expect(lookups).toHaveBeenCalledTimes(1);
        }
      } finally {
        restore();
      }
    });

    // Each page read from its index: the index warmed, then the cursor (`n` makes each new) and the
    // page's first ids, of the two videos published here (v1 liked by the viewer, v2 newer).
    const fromIndex: [
      string,
      (app: TestApp) => Promise<void>,
      (v1: number, n: number) => object,
      'both' | 'v1',
    ][] = [
      [
        'listLatest',
        (app) => app.app.get(LatestIndex).warm(),
        (_v1, n) => ({ limit: 2, latest_time: Date.now() + 60_000 + n, id_before: 0 }),
        'both',
      ],
      [
        'listByTag',
        (app) => app.app.get(TagIndex).warm('ahead'),
        (_v1, n) => ({ tag_name: 'ahead', limit: 2, latest_time: Date.now() + 60_000 + n, id_before: 0 }),
        'both',
      ],
      [
        // Below every video with more likes: v1 (1 like) first, then one liked by someone else.
        'listLikesCount',
        (app) => app.app.get(LikesCountIndex).warm(),
        (v1, n) => ({ limit: 2, likes_count_before: 1, id_before: v1 + 1 + n }),
        'v1',
      ],
    ];
    it.each(fromIndex)(
      "a deeper %s page: the lookup is asked before its items' entries have answered",
      async (feed, warm, cursor, first) => {
        const viewer = await registerAndLogin(t, 'ahead');
        const author = await registerAndLogin(t, 'auth');
        const v1 = await publish(author.token, 'i1 #ahead');
        const v2 = await publish(author.token, 'i2 #ahead');
        expect((await post('/like/like', viewer.token, { video_id: v1 })).status).toBe(200);
        await warm(t); // a deeper page is read from it
        const { lookups, askedWhenAnswered, reset, restore } = watchLookups(
          t.app.get(VideoDetailCache),
          'entries',
        );
        try {
          // A new cursor each time: no ids known for it from an earlier read.
          for (const n of [0, 1]) {
            reset();
            const page = await items(`/feed/${feed}`, viewer.token, cursor(v1, n));
            if (first === 'both') expect(page.map((i) => i.id)).toEqual([v2, v1]);
            else expect(page[0].id).toBe(v1);
            expect(liked(page)).toEqual([v1]);
            expect(askedWhenAnswered).toEqual([1]);
            expect(lookups).toHaveBeenCalledTimes(1);
          }
        } finally {
          restore();
        }
      },
    );

    it("the lookup is asked before the page's cached copy has answered (one Redis batch for both)", async () => {
      const viewer = await registerAndLogin(t, 'ahead');
      const author = await registerAndLogin(t, 'auth');
      await insertVideos(t, [
        { author_id: author.id, create_time: Date.now(), likes_count: 0, popularity: 0 },
      ]);
      expect((await post('/social/follow', viewer.token, { vlogger_id: author.id })).status).toBe(200);
      // Each time the page's cached copy answers.
      const { lookups, askedWhenAnswered, reset, restore } = watchLookups(
        t.app.get(CacheAside),
        'getOrLoadRaw',
      );
      try {
        await items('/feed/listByFollowing', viewer.token, { limit: 10 }); // the page's ids are now known
        reset();
        const page = await items('/feed/listByFollowing', viewer.token, { limit: 10 });
        expect(page).toHaveLength(1);
        expect(askedWhenAnswered).toEqual([1]);
        expect(lookups).toHaveBeenCalledTimes(1);
      } finally {
        restore();
      }
    });
  }
});
