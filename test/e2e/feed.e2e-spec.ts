import { FeedRepository, FeedService } from '@app/feed';
import { LikedSets } from '@app/like';
import { HotBuckets, LikesCountIndex } from '@app/video';
import { CacheKeys, CacheStore, minuteBucket } from '@app/cache';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES, redisClient } from '../helpers/test-env';
import { TcpProxy } from '../helpers/tcp-proxy';
import {
  byLikesDesc,
  byPopularityDesc,
  byTimeDesc,
  FixtureVideo,
  follow,
  insertAccounts,
  insertVideos,
  registerAndLogin,
  walk,
} from './feed-fixtures';
import { until } from '../helpers/wait';

const DAY = 86_400_000;
const LIMITS = [1, 7, 10, 50];
/** scripts/test-all.js runs this suite again with the fast reads off. */
const FAST_READS = process.env.TEST_HTTP_FAST_READS !== 'false';

// Walks, cache-TTL convergence and a Redis cut take longer than jest's 5 s default.
jest.setTimeout(60_000);

describe.each(PROFILES)('feeds (%s)', (profile) => {
  let t: TestApp;
  let videos: FixtureVideo[];
  let authors: number[];
  let many: { id: number; token: string }; // follows 55 authors (time-index plan)
  let few: { id: number; token: string }; // follows 3 authors (per-author plan)

  beforeAll(async () => {
    t = await startApp(profile);
    many = await registerAndLogin(t, 'many');
    few = await registerAndLogin(t, 'few');
    authors = await insertAccounts(t, 60);
    const base = Date.now() - 1000;
    // 210 videos on 7 distinct create_times (30 per millisecond), 4 like counts, 5 popularities,
    // spread over 18 days so the following feed crosses its 7-day scan window.
    videos = await insertVideos(
      t,
      Array.from({ length: 210 }, (_, i) => ({
        author_id: authors[i % authors.length],
        create_time: base - (i % 7) * 3 * DAY,
        likes_count: i % 4,
        popularity: (i % 4) + (i % 5),
      })),
    );
    await follow(t, many.id, authors.slice(0, 55));
    await follow(t, few.id, authors.slice(10, 13));
  });
  afterAll(async () => {
    await t?.close();
  });

  const post = (route: string, token?: string) => async (body: Record<string, unknown>) => {
    const req = t.http.post(route);
    if (token) void req.set('authorization', `Bearer ${token}`);
    return req.send(body);
  };

  it.each(LIMITS)('listLatest walks every video once, newest first, with ties (limit %i)', async (limit) => {
    const expected = [...videos].sort(byTimeDesc).map((v) => v.id);
    const { ids, pages } = await walk(post('/feed/listLatest'), { limit }, (p) => ({
      latest_time: p.next_time,
      id_before: p.next_id_before,
    }));
    expect(ids).toEqual(expected);
    expect(pages).toBe(Math.ceil(expected.length / limit));
  });

  it.each(LIMITS)('listByFollowing walks the followed authors once, in order (limit %i)', async (limit) => {
    for (const [viewer, followed] of [
      [many, authors.slice(0, 55)],
      [few, authors.slice(10, 13)],
    ] as const) {
      const set = new Set(followed);
      const expected = videos
        .filter((v) => set.has(v.author_id))
        .sort(byTimeDesc)
        .map((v) => v.id);
      const { ids } = await walk(post('/feed/listByFollowing', viewer.token), { limit }, (p) => ({
        latest_time: p.next_time,
        id_before: p.next_id_before,
      }));
      expect(ids).toEqual(expected);
    }
  });

  it.each(LIMITS)(
    'listLikesCount walks every video once by (likes_count, id) desc (limit %i)',
    async (limit) => {
      const expected = [...videos].sort(byLikesDesc).map((v) => v.id);
      const { ids, pages } = await walk(post('/feed/listLikesCount'), { limit }, (p) => ({
        likes_count_before: p.next_likes_count_before,
        id_before: p.next_id_before,
      }));
      expect(ids).toEqual(expected);
      expect(pages).toBe(Math.ceil(expected.length / limit));
    },
  );

  it('a page has the FeedVideoItem shape, create_time in seconds and cursors in ms', async () => {
    const res = await t.http.post('/api/feed/listLatest').send({ limit: 2 }).expect(200);
    const top = [...videos].sort(byTimeDesc)[0];
    expect(Object.keys(res.body).sort()).toEqual(['has_more', 'next_id_before', 'next_time', 'video_list']);
    expect(res.body.video_list[0]).toEqual({
      id: top.id,
      author: { id: top.author_id, username: `author${top.author_id}` },
      title: expect.any(String),
      description: '',
      play_url: 'https://cdn.example.com/v.mp4',
      cover_url: 'https://cdn.example.com/c.jpg',
      create_time: Math.floor(top.create_time / 1000),
      likes_count: top.likes_count,
      comments_count: top.popularity - top.likes_count,
      is_liked: false,
      tags: [],
    });
    expect(res.body.next_time).toBe([...videos].sort(byTimeDesc)[1].create_time);
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('a cached anonymous page is answered from its bytes (fast reads) with the same bytes and headers', async () => {
    const a = await t.http.post('/feed/listLatest').send({ limit: 3 }).expect(200); // fills the cache
    const feeds = t.app.get(FeedService);
    const spy = jest.spyOn(feeds, 'listLatest');
    const b = await t.http.post('/api/feed/listLatest').send({ limit: 3, extra: 'x' }).expect(200);
    // With the fast reads (the default) the page's bytes are sent as they are; through Nest the
    // page is parsed and serialised again. This suite also runs with them off (test-all.js).
    expect(spy).toHaveBeenCalledTimes(FAST_READS ? 0 : 1);
    await t.http
      .post('/feed/listLatest')
      .set('authorization', `Bearer ${few.token}`)
      .send({ limit: 3 })
      .expect(200);
    // A viewer's page: its bytes with is_liked set (fast reads), or the page object through Nest.
    expect(spy).toHaveBeenCalledTimes(FAST_READS ? 0 : 2);
    spy.mockRestore();
    expect(b.text).toBe(a.text);
    expect(b.headers['content-type']).toBe(a.headers['content-type']);
    expect(b.headers['x-request-id']).toBeTruthy();
    expect(b.headers['x-request-id']).not.toBe(a.headers['x-request-id']);
    const c = await t.http
      .post('/feed/listLatest')
      .set('x-request-id', 'mine-1')
      .send({ limit: 3 })
      .expect(200);
    expect(c.headers['x-request-id']).toBe('mine-1');
    // Bad input never takes the fast path.
    expectError(await t.http.post('/feed/listLatest').send({ limit: -3 }), 400, 'VALIDATION_FAILED');
  });

  it('an empty page echoes the request cursor with has_more false', async () => {
    const res = await t.http
      .post('/feed/listLatest')
      .send({ limit: 5, latest_time: 1000, id_before: 7 })
      .expect(200);
    expect(res.body).toEqual({ video_list: [], next_time: 1000, next_id_before: 7, has_more: false });
    const lc = await t.http
      .post('/feed/listLikesCount')
      .send({ likes_count_before: 0, id_before: 1 })
      .expect(200);
    expect(lc.body).toEqual({
      video_list: [],
      next_likes_count_before: 0,
      next_id_before: 1,
      has_more: false,
    });
  });

  it('limit: absent/0 = 10, above 50 clamped to 50', async () => {
    expect((await t.http.post('/feed/listLatest').send({}).expect(200)).body.video_list).toHaveLength(10);
    expect(
      (await t.http.post('/feed/listLatest').send({ limit: 0 }).expect(200)).body.video_list,
    ).toHaveLength(10);
    expect(
      (await t.http.post('/feed/listLikesCount').send({ limit: 51 }).expect(200)).body.video_list,
    ).toHaveLength(50);
    expect(
      (await t.http.post('/feed/listByPopularity').send({ limit: 500 }).expect(200)).body.video_list,
    ).toHaveLength(50);
  });

  it("is_liked is true only for the viewer's own likes, false for anonymous", async () => {
    const top = [...videos].sort(byTimeDesc).slice(0, 3);
    await t.sql('INSERT INTO likes (video_id, account_id, create_time) VALUES (?, ?, ?)', [
      top[1].id,
      few.id,
      Date.now(),
    ]);
    // Written behind the api's back (a like through the route would change likes_count, which
    // other cases walk): drop the viewer's liked set the way a like does.
    await t.app.get(LikedSets).invalidate([few.id]);
    const mine = await t.http
      .post('/feed/listLatest')
      .set('authorization', `Bearer ${few.token}`)
      .send({ limit: 3 })
      .expect(200);
    expect(mine.body.video_list.map((v: { is_liked: boolean }) => v.is_liked)).toEqual([false, true, false]);
    const other = await t.http
      .post('/feed/listLatest')
      .set('authorization', `Bearer ${many.token}`)
      .send({ limit: 3 })
      .expect(200);
    expect(other.body.video_list.map((v: { is_liked: boolean }) => v.is_liked)).toEqual([
      false,
      false,
      false,
    ]);
    const anon = await t.http.post('/feed/listLatest').send({ limit: 3 }).expect(200);
    expect(anon.body.video_list.map((v: { is_liked: boolean }) => v.is_liked)).toEqual([false, false, false]);
  });

  it('listByPopularity without Redis buckets pages the database by (popularity, id) with as_of + offset', async () => {
    const expected = [...videos].sort(byPopularityDesc).map((v) => v.id);
    for (const limit of [7, 50]) {
      let asOf = 0;
      const { ids } = await walk(post('/feed/listByPopularity'), { limit }, (p) => {
        if (asOf === 0) asOf = p.as_of as number;
        expect(p.as_of).toBe(asOf);
        return { as_of: p.as_of, offset: p.next_offset };
      });
      expect(ids).toEqual(expected);
      expect(asOf % 60).toBe(0);
    }
  });

  it('listByPopularity: as_of is truncated to its minute; future or too old means now', async () => {
    const now = Math.floor(Date.now() / 60_000) * 60;
    const r1 = await t.http
      .post('/feed/listByPopularity')
      .send({ as_of: now - 120 + 17 })
      .expect(200);
    expect(r1.body.as_of).toBe(now - 120);
    const r2 = await t.http
      .post('/feed/listByPopularity')
      .send({ as_of: now + 3600 })
      .expect(200);
    expect([now, now + 60]).toContain(r2.body.as_of);
    const r3 = await t.http
      .post('/feed/listByPopularity')
      .send({ as_of: now - 7200 })
      .expect(200);
    expect([now, now + 60]).toContain(r3.body.as_of);
  });

  it('validation: every bad cursor and limit combination is a 400', async () => {
    const bad: [string, Record<string, unknown>][] = [
      ['/feed/listLatest', { limit: -1 }],
      ['/feed/listLatest', { limit: 1.5 }],
      ['/feed/listLatest', { limit: '10' }],
      ['/feed/listLatest', { latest_time: -5 }],
      ['/feed/listLatest', { latest_time: 12.5 }],
      ['/feed/listLatest', { latest_time: '123' }],
      ['/feed/listLatest', { id_before: -1 }],
      ['/feed/listByFollowing', { id_before: 0.5 }],
      ['/feed/listLikesCount', { likes_count_before: 3 }],
      ['/feed/listLikesCount', { id_before: 3 }],
      ['/feed/listLikesCount', { likes_count_before: 3, id_before: 0 }],
      ['/feed/listLikesCount', { likes_count_before: -1, id_before: 3 }],
      ['/feed/listLikesCount', { likes_count_before: 1, id_before: 2.5 }],
      ['/feed/listByPopularity', { as_of: -60 }],
      ['/feed/listByPopularity', { offset: -1 }],
      ['/feed/listByPopularity', { offset: 1.5 }],
      ['/feed/listByPopularity', { limit: true }],
    ];
    for (const [route, body] of bad) {
      const res = await t.http.post(route).set('authorization', `Bearer ${few.token}`).send(body);
      expectError(res, 400, 'VALIDATION_FAILED');
    }
    const pair = await t.http.post('/feed/listLikesCount').send({ likes_count_before: 3 });
    expect(expectError(pair, 400, 'VALIDATION_FAILED').error).toMatch(/together/);
    expectError(await t.http.post('/feed/listLatest').send([1, 2]), 400, 'VALIDATION_FAILED');
  });

  it('401: listByFollowing without a token; any feed with a bad token', async () => {
    expectError(await t.http.post('/feed/listByFollowing').send({}), 401, 'UNAUTHENTICATED');
    for (const route of [
      '/feed/listLatest',
      '/feed/listLikesCount',
      '/feed/listByPopularity',
      '/feed/listByFollowing',
    ]) {
      expectError(
        await t.http.post(route).set('authorization', 'Bearer not-a-token').send({}),
        401,
        'UNAUTHENTICATED',
      );
      expectError(
        await t.http.post(route).set('authorization', 'Basic abc').send({}),
        401,
        'UNAUTHENTICATED',
      );
    }
  });

  // 100: well under MAX_CONNECTIONS_PER_IP (512), past which the server resets connections from one address.
  it('stampede: 100 concurrent requests on a cold feed key reach the database once', async () => {
    // A page is loaded from the latest index or the caller's timeline, or by the SQL query: one
    // load either way.
    const latestLoads = jest.spyOn(t.app.get(FeedService), 'latestRows');
    const loads = jest.spyOn(t.app.get(FeedService), 'followingRows');
    try {
      const a = await Promise.all(
        Array.from({ length: 100 }, () => t.http.post('/feed/listLatest').send({ limit: 13 })),
      );
      expect(a.every((r) => r.status === 200)).toBe(true);
      expect(new Set(a.map((r) => r.text)).size).toBe(1);
      expect(latestLoads).toHaveBeenCalledTimes(1);
      const f = await Promise.all(
        Array.from({ length: 100 }, () =>
          t.http
            .post('/feed/listByFollowing')
            .set('authorization', `Bearer ${few.token}`)
            .send({ limit: 13 }),
        ),
      );
      expect(f.every((r) => r.status === 200)).toBe(true);
      expect(loads).toHaveBeenCalledTimes(1);
    } finally {
      latestLoads.mockRestore();
      loads.mockRestore();
    }
  });

  it('listLikesCount: requests while its query runs, and after it under the same generation, share it; none shares a page older than a change that answered', async () => {
    const author = await registerAndLogin(t, 'lcshare');
    const newName = `lcr${Date.now().toString(36)}`;
    const [top] = await insertVideos(t, [
      { author_id: author.id, create_time: Date.now(), likes_count: 1_000_000, popularity: 1_000_000 },
    ]);
    const repo = t.app.get(FeedRepository);
    const real = repo.likesCount.bind(repo);
    // The SQL path's sharing: the likes-count index (full profile) is not asked here.
    const noIndex = jest.spyOn(t.app.get(LikesCountIndex), 'page').mockResolvedValue(undefined);
    let queries = 0;
    let release = (): void => undefined;
    const held = new Promise<void>((r) => (release = r));
    const spy = jest.spyOn(repo, 'likesCount').mockImplementation(async (take, cursor) => {
      queries++;
      const rows = await real(take, cursor);
      await held; // the query has read its rows and is still "running" while the next requests arrive
      return rows;
    });
    // A request that finds the page's query running joins it: SharedPages's lookup of it answers.
    const feeds: object = t.app.get(FeedService);
    const { running } = (feeds as { shared: { running: Map<string, unknown> } }).shared;
    const lookups = jest.spyOn(running, 'get');
    const joined = () => lookups.mock.results.filter((r) => r.value !== undefined).length;
    try {
      const first = Array.from({ length: 10 }, () =>
        t.http
          .post('/feed/listLikesCount')
          .send({ limit: 5 })
          .then((r) => r),
      );
      await until(() => queries > 0 && joined() >= 9, 15_000);
      expect(joined()).toBe(9); // the other nine joined the first one's query
      expect(queries).toBe(1);
      // Answered while that query runs: a request after it must not get the older query's page.
      const renameRes = await t.http
        .post('/account/rename')
        .set('authorization', `Bearer ${author.token}`)
        .send({ new_username: newName })
        .expect(200);
      const after = t.http
        .post('/feed/listLikesCount')
        .send({ limit: 5 })
        .then((r) => r);
      await until(() => queries > 1, 15_000);
      expect(queries).toBe(2);
      release();
      const pages = await Promise.all(first);
      expect(pages.every((r) => r.status === 200)).toBe(true);
      expect(new Set(pages.map((r) => r.text)).size).toBe(1);
      expect(pages[0].body.video_list[0]).toMatchObject({
        id: top.id,
        author: { username: `author${author.id}` },
      });
      const renamed = await after;
      expect(renamed.status).toBe(200);
      expect(renamed.body.video_list[0]).toMatchObject({ id: top.id, author: { username: newName } });
      // A request after the queries finished, under the same generation, takes the page held.
      const lone = await t.http.post('/feed/listLikesCount').send({ limit: 5 }).expect(200);
      expect(queries).toBe(2);
      expect(lone.body).toEqual(renamed.body);
      // A change that answered is in the next page: a query of its own.
      const renamedAgain = `${newName}b`;
      await t.http
        .post('/account/rename')
        .set('authorization', `Bearer ${renameRes.body.token as string}`)
        .send({ new_username: renamedAgain })
        .expect(200);
      const next = await t.http.post('/feed/listLikesCount').send({ limit: 5 }).expect(200);
      expect(queries).toBe(3);
      expect(next.body.video_list[0]).toMatchObject({ id: top.id, author: { username: renamedAgain } });
    } finally {
      lookups.mockRestore();
      release();
      spy.mockRestore();
      noIndex.mockRestore();
      await t.sql('DELETE FROM videos WHERE id = ?', [top.id]);
    }
  });

  it('listByFollowing shows a follow and an unfollow at once, though the page before was cached', async () => {
    const viewer = await registerAndLogin(t, 'rywviewer');
    const author = await registerAndLogin(t, 'rywauthor');
    const [v] = await insertVideos(t, [
      { author_id: author.id, create_time: Date.now() - 60_000, likes_count: 0, popularity: 0 },
    ]);
    const bearer = `Bearer ${viewer.token}`;
    const ids = async (body: Record<string, unknown>): Promise<number[]> => {
      const r = await t.http
        .post('/feed/listByFollowing')
        .set('authorization', bearer)
        .send(body)
        .expect(200);
      return (r.body.video_list as { id: number }[]).map((i) => i.id);
    };
    try {
      expect(await ids({ limit: 5 })).toEqual([]);
      expect(await ids({})).toEqual([]);
      await t.http
        .post('/social/follow')
        .set('authorization', bearer)
        .send({ vlogger_id: author.id })
        .expect(200);
      expect(await ids({ limit: 5 })).toEqual([v.id]);
      expect(await ids({})).toEqual([v.id]);
      await t.http
        .post('/social/unfollow')
        .set('authorization', bearer)
        .send({ vlogger_id: author.id })
        .expect(200);
      expect(await ids({ limit: 5 })).toEqual([]);
      expect(await ids({})).toEqual([]);
    } finally {
      await t.sql('DELETE FROM videos WHERE id = ?', [v.id]);
    }
  });

  if (profile === 'full') {
    it('listByPopularity pages one Redis snapshot: score desc, ties by id desc, gone videos skipped but counted', async () => {
      const r = redisClient();
      try {
        const prefix = t.testEnv.redisPrefix ?? '';
        // A minute no earlier test has read (snapshots are frozen once built).
        const asOf = Math.floor(Date.now() / 60_000) * 60 - 300;
        const nowMs = asOf * 1000;
        // 3 minutes of the window; scores tie a lot; one id is not a video; one nets to 0.
        const picks = videos.slice(0, 40);
        const scores = new Map<number, number>();
        const pipe = r.pipeline();
        picks.forEach((v, i) => {
          const minute = minuteBucket(nowMs - (i % 3) * 60_000);
          const s = 1 + (i % 4);
          scores.set(v.id, (scores.get(v.id) ?? 0) + s);
          pipe.zincrby(prefix + CacheKeys.hotBucket(minute), s, String(v.id));
        });
        const goneId = 99_999_999;
        pipe.zincrby(prefix + CacheKeys.hotBucket(minuteBucket(nowMs)), 3, String(goneId));
        pipe.zincrby(prefix + CacheKeys.hotBucket(minuteBucket(nowMs)), 1, String(videos[50].id));
        pipe.zincrby(prefix + CacheKeys.hotBucket(minuteBucket(nowMs - 60_000)), -1, String(videos[50].id));
        // Outside the window (61 minutes ago): ignored.
        pipe.zincrby(
          prefix + CacheKeys.hotBucket(minuteBucket(nowMs - 61 * 60_000)),
          100,
          String(videos[60].id),
        );
        await pipe.exec();
        const expected = [...scores.entries()].sort((a, b) => b[1] - a[1] || b[0] - a[0]).map(([id]) => id);
        for (const limit of [1, 7, 50]) {
          const offsets: number[] = [];
          const { ids } = await walk(post('/feed/listByPopularity'), { limit, as_of: asOf }, (p) => {
            expect(p.as_of).toBe(asOf);
            offsets.push(p.next_offset as number);
            return { offset: p.next_offset };
          });
          expect(ids).toEqual(expected);
          // The gone video (score 3) was consumed: offsets count every snapshot entry.
          expect(offsets.length === 0 || offsets[offsets.length - 1] <= expected.length + 1).toBe(true);
        }
        const last = await t.http.post('/feed/listByPopularity').send({ as_of: asOf, limit: 50 }).expect(200);
        expect(last.body.next_offset).toBe(expected.length + 1);
        expect(last.body.has_more).toBe(false);
        const key = prefix + CacheKeys.hotSnapshot(asOf);
        const ttl = await r.pttl(key);
        expect(ttl).toBeGreaterThan(60_000);
        // Frozen: new activity in the window does not change the snapshot being paged.
        await r.zincrby(prefix + CacheKeys.hotBucket(minuteBucket(nowMs)), 1000, String(videos[100].id));
        const again = await t.http
          .post('/feed/listByPopularity')
          .send({ as_of: asOf, limit: 50 })
          .expect(200);
        expect(again.body.video_list.map((v: { id: number }) => v.id)).toEqual(expected.slice(0, 50));
      } finally {
        r.disconnect();
      }
    });

    it("listByPopularity's first page shows a like made after the current minute's snapshot was built, within the shared page's 5 s (not at the next minute)", async () => {
      const liker = await registerAndLogin(t, 'hotfresh');
      // The whole test within one minute (else the next minute's snapshot would show the like anyway).
      const intoMinute = Date.now() % 60_000;
      if (intoMinute > 45_000) await new Promise((res) => setTimeout(res, 60_100 - intoMinute));
      const minute = Math.floor(Date.now() / 60_000);
      // Activity in the current minute, so its snapshot is not empty (an empty one reads the
      // database, which lists every video), then the snapshot built now, before the like.
      // As the popularity handler adds an event after its commit (bucket, running window, version).
      const buckets = new HotBuckets(t.app.get(CacheStore));
      buckets.events.push({
        event_id: `hotfresh-${process.pid}-${Date.now()}`,
        video_id: videos[1].id,
        delta: 1,
        reason: 'like',
        ts: Date.now(),
      });
      await buckets.run();
      // Past any snapshot an earlier test built in this minute (rebuilt at most every second).
      await new Promise((res) => setTimeout(res, 1100));
      const ids = async (): Promise<number[]> => {
        const all: number[] = [];
        let body: { video_list: { id: number }[]; as_of: number; next_offset: number; has_more: boolean };
        // A page size no other test reads, so no page held by an earlier read answers.
        let q: Record<string, number> = { limit: 47 };
        do {
          body = (await t.http.post('/feed/listByPopularity').send(q).expect(200)).body;
          all.push(...body.video_list.map((v) => v.id));
          q = { limit: 47, as_of: body.as_of, offset: body.next_offset };
        } while (body.has_more);
        return all;
      };
      const target = videos[videos.length - 1].id; // the oldest: never ranked by an earlier test
      const before = await ids();
      // The snapshot's list (the database's would list every video).
      expect(before).toContain(videos[1].id);
      expect(before).not.toContain(target);
      await t.http
        .post('/like/like')
        .set('authorization', `Bearer ${liker.token}`)
        .send({ video_id: target })
        .expect(200);
      const deadline = Date.now() + 7000; // the shared page's 5 s hold, the 1 s rebuild interval
      let seen = (await ids()).includes(target);
      while (!seen && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        seen = (await ids()).includes(target);
      }
      expect(seen).toBe(true);
      expect(Math.floor(Date.now() / 60_000)).toBe(minute);
    });
  }
});

// Redis is the only thing cut, so this runs on the full profile only.
if (PROFILES.includes('full')) {
  describe('feeds with Redis cut mid-run (full)', () => {
    let t: TestApp;
    let proxy: TcpProxy;
    let videos: FixtureVideo[];
    let viewer: { id: number; token: string };

    beforeAll(async () => {
      proxy = new TcpProxy('127.0.0.1', 6379);
      const port = await proxy.start();
      t = await startApp('full', { redisUrl: `redis://127.0.0.1:${port}` });
      viewer = await registerAndLogin(t, 'cut');
      const authors = await insertAccounts(t, 5);
      const base = Date.now() - 1000;
      videos = await insertVideos(
        t,
        Array.from({ length: 60 }, (_, i) => ({
          author_id: authors[i % 5],
          create_time: base - (i % 4) * 1000,
          likes_count: i % 3,
          popularity: i % 6,
        })),
      );
      await follow(t, viewer.id, authors.slice(0, 3));
      // Some hot-list activity, so the first pages come from a Redis snapshot.
      const r = redisClient();
      const prefix = t.testEnv.redisPrefix ?? '';
      for (const v of videos.slice(0, 20)) {
        await r.zincrby(prefix + CacheKeys.hotBucket(minuteBucket(Date.now())), 1 + (v.id % 3), String(v.id));
      }
      r.disconnect();
    });
    afterAll(async () => {
      await t?.close();
      await proxy?.stop();
    });

    const routes: [string, Record<string, unknown>, boolean][] = [
      ['/feed/listLatest', { limit: 5 }, false],
      ['/feed/listLatest', { limit: 5 }, true],
      ['/feed/listLikesCount', { limit: 5 }, false],
      ['/feed/listByPopularity', { limit: 5 }, false],
      ['/feed/listByFollowing', { limit: 5 }, true],
    ];
    const hitAll = async (): Promise<number[]> => {
      const statuses: number[] = [];
      for (const [route, body, auth] of routes) {
        const req = t.http.post(route);
        if (auth) void req.set('authorization', `Bearer ${viewer.token}`);
        statuses.push((await req.send(body)).status);
      }
      return statuses;
    };

    it('every feed answers 2xx with Redis up, cut, and back; the hot list pages from the database without repeats; the cache refills', async () => {
      expect(await hitAll()).toEqual([200, 200, 200, 200, 200]);
      const snap = await t.http.post('/feed/listByPopularity').send({ limit: 50 }).expect(200);
      expect(snap.body.video_list).toHaveLength(20); // the Redis snapshot, not the whole table

      proxy.cut();
      for (let i = 0; i < 3; i++) expect(await hitAll()).toEqual([200, 200, 200, 200, 200]);
      const expected = [...videos].sort(byPopularityDesc).map((v) => v.id);
      for (const limit of [4, 7]) {
        const { ids } = await walk(
          async (body) => t.http.post('/feed/listByPopularity').send(body),
          { limit },
          (p) => ({ as_of: p.as_of, offset: p.next_offset }),
        );
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toEqual(expected);
      }
      // The following feed reads the database while Redis is away.
      const f = await t.http
        .post('/feed/listByFollowing')
        .set('authorization', `Bearer ${viewer.token}`)
        .send({ limit: 50 })
        .expect(200);
      expect(f.body.video_list).toHaveLength(36);

      proxy.restore();
      const r = redisClient();
      try {
        const key = (t.testEnv.redisPrefix ?? '') + CacheKeys.latestFeed(9, '0');
        let refilled = false;
        for (let i = 0; i < 100 && !refilled; i++) {
          expect((await t.http.post('/feed/listLatest').send({ limit: 9 })).status).toBe(200);
          refilled = (await r.exists(key)) === 1;
          if (!refilled) await new Promise((res) => setTimeout(res, 100));
        }
        expect(refilled).toBe(true);
        expect(await hitAll()).toEqual([200, 200, 200, 200, 200]);
      } finally {
        r.disconnect();
      }
    });
  });
}
