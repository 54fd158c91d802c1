import { createAccount, TestAccount } from '../factories/accounts';
import { publishVideo } from '../factories/videos';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';

describe.each(PROFILES)('like routes (%s)', (profile) => {
  let t: TestApp;
  let alice: TestAccount;
  let bob: TestAccount;

  beforeAll(async () => {
    t = await startApp(profile);
    alice = await createAccount(t, 'alice');
    bob = await createAccount(t, 'bob');
  });
  afterAll(async () => {
    await t?.close();
  });

  const call = (route: string, who: TestAccount | null, body: unknown) => {
    const req = t.http.post(`/like/${route}`);
    if (who) void req.set('Authorization', who.auth);
    return req.send(body as object);
  };
  const detail = async (id: number) => (await t.http.post('/video/getDetail').send({ id }).expect(200)).body;

  it('like → isLiked true at once, counters +1; unlike → false, counters back', async () => {
    const v = await publishVideo(t, alice);
    await detail(v.id); // warm the cache: the like must invalidate it
    expect((await call('isLiked', bob, { video_id: v.id }).expect(200)).body).toEqual({ is_liked: false });
    expect((await call('like', bob, { video_id: v.id }).expect(200)).body).toEqual({
      message: expect.any(String),
    });
    expect((await call('isLiked', bob, { video_id: v.id }).expect(200)).body).toEqual({ is_liked: true });
    expect((await call('isLiked', alice, { video_id: v.id }).expect(200)).body).toEqual({ is_liked: false });
    expect(await detail(v.id)).toMatchObject({ likes_count: 1, popularity: 1 });
    await call('unlike', bob, { video_id: v.id }).expect(200);
    expect((await call('isLiked', bob, { video_id: v.id }).expect(200)).body).toEqual({ is_liked: false });
    expect(await detail(v.id)).toMatchObject({ likes_count: 0, popularity: 0 });
  });

  it('409 already liked / not liked, with nothing written', async () => {
    const v = await publishVideo(t, alice);
    await call('like', bob, { video_id: v.id }).expect(200);
    expectError(await call('like', bob, { video_id: v.id }), 409, 'CONFLICT', 'already liked');
    expect(await detail(v.id)).toMatchObject({ likes_count: 1, popularity: 1 });
    await call('unlike', bob, { video_id: v.id }).expect(200);
    expectError(await call('unlike', bob, { video_id: v.id }), 409, 'CONFLICT', 'not liked');
    expect(await detail(v.id)).toMatchObject({ likes_count: 0, popularity: 0 });
  });

  it('404 for an unknown video on every route', async () => {
    for (const r of ['like', 'unlike', 'isLiked']) {
      expectError(await call(r, bob, { video_id: 987654321 }), 404, 'NOT_FOUND', 'video not found');
    }
  });

  it('401 without a token on every route', async () => {
    for (const r of ['like', 'unlike', 'isLiked', 'listMyLikedVideos']) {
      expectError(await call(r, null, { video_id: 1 }), 401, 'UNAUTHENTICATED');
    }
    expectError(
      await call('like', null, { video_id: 1 }).set('Authorization', 'Bearer nope'),
      401,
      'UNAUTHENTICATED',
    );
  });

  it.each([
    [{}],
    [{ video_id: '1' }],
    [{ video_id: 0 }],
    [{ video_id: -2 }],
    [{ video_id: 1.5 }],
    [{ video_id: 2 ** 53 }],
  ])('400 for %j', async (body) => {
    for (const r of ['like', 'unlike', 'isLiked'])
      expectError(await call(r, bob, body), 400, 'VALIDATION_FAILED');
  });

  it('20 identical likes in parallel: one 200, nineteen 409, likes_count 1', async () => {
    const v = await publishVideo(t, alice);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => call('like', bob, { video_id: v.id })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    const rows = await t.sql<{ likes_count: number; popularity: number }>(
      'SELECT likes_count, popularity FROM videos WHERE id = ?',
      [v.id],
    );
    expect([Number(rows[0].likes_count), Number(rows[0].popularity)]).toEqual([1, 1]);
    expect(await detail(v.id)).toMatchObject({ likes_count: 1 });
  });

  it('concurrent writes with mixed outcomes (one group commit): each gets its own status, nothing else is written', async () => {
    const [dave, erin, frank] = [
      await createAccount(t, 'dave'),
      await createAccount(t, 'erin'),
      await createAccount(t, 'frank'),
    ];
    const [v1, v2, v3] = [
      await publishVideo(t, alice),
      await publishVideo(t, alice),
      await publishVideo(t, alice),
    ];
    await call('like', dave, { video_id: v1.id }).expect(200);
    await call('like', erin, { video_id: v2.id }).expect(200);
    const writes: [string, TestAccount, number, number][] = [
      ['like', dave, v1.id, 409], // already liked
      ['like', dave, v2.id, 200],
      ['like', dave, 987654321, 404],
      ['unlike', dave, v3.id, 409], // not liked
      ['unlike', dave, 987654322, 404],
      ['unlike', frank, v1.id, 409],
      ['like', frank, v2.id, 200],
      ['unlike', erin, v2.id, 200],
      ['like', frank, v3.id, 200],
    ];
    const results = await Promise.all([
      ...writes.map(([route, who, video]) => call(route, who, { video_id: video })),
      // the same like five times and the same unlike three times, in the same burst
      ...Array.from({ length: 5 }, () => call('like', erin, { video_id: v3.id })),
      ...Array.from({ length: 3 }, () => call('unlike', dave, { video_id: v1.id })),
    ]);
    writes.forEach(([route, , video, status], i) => {
      expect({ route, video, status: results[i].status }).toEqual({ route, video, status });
    });
    const count = (from: number, n: number, status: number) =>
      results.slice(from, from + n).filter((r) => r.status === status).length;
    expect([count(writes.length, 5, 200), count(writes.length, 5, 409)]).toEqual([1, 4]);
    expect([count(writes.length + 5, 3, 200), count(writes.length + 5, 3, 409)]).toEqual([1, 2]);
    // v1: dave's like undone; v2: dave + frank (erin's undone); v3: frank + erin
    const rows = await t.sql<{ id: number; likes_count: number; popularity: number; likes: number }>(
      `SELECT v.id, v.likes_count, v.popularity, (SELECT COUNT(*) FROM likes l WHERE l.video_id = v.id) AS likes
       FROM videos v WHERE v.id IN (?, ?, ?) ORDER BY v.id`,
      [v1.id, v2.id, v3.id],
    );
    expect(rows.map((r) => [Number(r.likes_count), Number(r.popularity), Number(r.likes)])).toEqual([
      [0, 0, 0],
      [2, 2, 2],
      [2, 2, 2],
    ]);
    for (const [who, video, liked] of [
      [dave, v1.id, false],
      [dave, v2.id, true],
      [erin, v2.id, false],
      [erin, v3.id, true],
      [frank, v2.id, true],
      [frank, v3.id, true],
    ] as const) {
      expect((await call('isLiked', who, { video_id: video }).expect(200)).body).toEqual({ is_liked: liked });
    }
  });

  it('listMyLikedVideos: most recently liked first, each with like_id, paged by id_before', async () => {
    const carol = await createAccount(t, 'carol');
    const vs = [await publishVideo(t, alice), await publishVideo(t, alice), await publishVideo(t, alice)];
    // Like in the order 2, 0, 1: the list follows the likes, not the videos.
    for (const i of [2, 0, 1]) await call('like', carol, { video_id: vs[i].id }).expect(200);
    const p1 = await call('listMyLikedVideos', carol, { limit: 2 }).expect(200);
    expect(p1.body.map((x: { id: number }) => x.id)).toEqual([vs[1].id, vs[0].id]);
    expect(p1.body[0]).toMatchObject({
      id: vs[1].id,
      author_id: alice.id,
      username: alice.username,
      likes_count: 1,
      like_id: expect.any(Number),
    });
    const p2 = await call('listMyLikedVideos', carol, { limit: 2, id_before: p1.body[1].like_id }).expect(
      200,
    );
    expect(p2.body.map((x: { id: number }) => x.id)).toEqual([vs[2].id]);
    const p3 = await call('listMyLikedVideos', carol, { limit: 2, id_before: p2.body[0].like_id }).expect(
      200,
    );
    expect(p3.body).toEqual([]);
    const all = await call('listMyLikedVideos', carol, { limit: 0, id_before: 0 }).expect(200);
    expect(all.body).toHaveLength(3);
    for (const body of [{ limit: -1 }, { limit: 1.5 }, { id_before: -1 }, { limit: '5' }]) {
      expectError(await call('listMyLikedVideos', carol, body), 400, 'VALIDATION_FAILED');
    }
  });
});
