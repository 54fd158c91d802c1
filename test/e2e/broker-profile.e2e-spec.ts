import { connect, type Channel, type ChannelModel } from 'amqplib';
import { Database } from '@app/core';
import {
  ALL_CONSUMER_QUEUES,
  boundQueues,
  deadLetterQueueName,
  EventPublisher,
  OutboxStatus,
  type RoutingKey,
} from '@app/events';
import { recountAll } from '../../apps/worker/src/recount-all';
import { createAccount, createAccounts, TestAccount } from '../factories/accounts';
import { publishComment, publishVideo } from '../factories/videos';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { AMQP_BASE } from '../helpers/test-env';
import { startWorker, TestWorker } from '../helpers/worker';
import { waitFor as waitUntil } from '../helpers/wait';

/**
 * SPEC §3.2–§3.5 and §7 on the full profile with the broker: MariaDB + Redis + RabbitMQ, the api
 * in-process and the real worker (all domain modules) in-process, no mocks. The complete error
 * matrix runs on the other profiles; here each route gets its happy path and one error status,
 * and the derived counters are checked to converge through the worker.
 */
jest.setTimeout(60_000);

/** Bound for "the counters converge": SPEC §7.5 says 2 s under normal load; the machine is shared. */
const CONVERGE_MS = 10_000;
const UNKNOWN = 987654321;

const waitFor = <T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = CONVERGE_MS): Promise<T> =>
  waitUntil(fn, ok, timeoutMs);

const ZERO_RECOUNT = {
  likes_count: 0,
  comments_count: 0,
  popularity: 0,
  follower_count: 0,
  vlogger_count: 0,
};

describe('interactions on the broker profile (MariaDB + Redis + RabbitMQ + worker)', () => {
  let t: TestApp;
  let worker: TestWorker | undefined;
  let amqp: ChannelModel;
  let ch: Channel;
  let alice: TestAccount;
  let bob: TestAccount;

  beforeAll(async () => {
    t = await startApp('full', { amqp: true });
    worker = await startWorker(t.testEnv, { migrate: false });
    amqp = await connect(`${AMQP_BASE}/${t.testEnv.vhost}`);
    amqp.on('error', () => undefined);
    ch = await amqp.createChannel();
    ch.on('error', () => undefined);
    [alice, bob] = await createAccounts(t, 2, 'bk');
  });

  afterAll(async () => {
    await worker?.close().catch(() => undefined);
    await amqp?.close().catch(() => undefined);
    await t?.close();
  });

  const post = (route: string, who: TestAccount | null, body: object) => {
    const req = t.http.post(route);
    if (who) void req.set('Authorization', who.auth);
    return req.send(body);
  };
  const num = async (q: string, params: unknown[] = []): Promise<number> =>
    Number((await t.sql<{ n: number }>(q, params))[0].n);
  const detail = async (id: number) => (await post('/video/getDetail', null, { id }).expect(200)).body;
  const counts = async (id: number) =>
    (await post('/social/getCounts', alice, { account_id: id }).expect(200)).body as {
      follower_count: number;
      vlogger_count: number;
    };
  /** Waits until getDetail shows `want`; returns what it last saw (for the assertion's diff). */
  const detailConverges = async (id: number, want: Record<string, number>) => {
    const matches = (v: Record<string, unknown>) => Object.entries(want).every(([k, n]) => v[k] === n);
    const seen = await waitFor(() => detail(id), matches);
    expect(seen).toMatchObject(want);
  };
  const countsConverge = async (id: number, want: { follower_count: number; vlogger_count: number }) => {
    const seen = await waitFor(
      () => counts(id),
      (c) => c.follower_count === want.follower_count && c.vlogger_count === want.vlogger_count,
    );
    expect(seen).toEqual(want);
  };
  /** Messages ready in the work queues (not yet delivered to a consumer). */
  const queued = async (): Promise<number> => {
    let n = 0;
    for (const q of ALL_CONSUMER_QUEUES) n += (await ch.checkQueue(q.name)).messageCount;
    return n;
  };
  const deadLettered = async (): Promise<number> => {
    let n = 0;
    for (const q of ALL_CONSUMER_QUEUES) n += (await ch.checkQueue(deadLetterQueueName(q.name))).messageCount;
    return n;
  };
  /** Pending outbox rows, and outbox events with no processed_events row yet. */
  const backlog = async () => ({
    pending: await num('SELECT COUNT(*) AS n FROM outbox WHERE status = ?', [OutboxStatus.Pending]),
    unprocessed: await num(
      'SELECT COUNT(*) AS n FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM processed_events p WHERE p.event_id = o.event_id)',
    ),
    queued: await queued(),
  });
  /** The system is quiet: every outbox event published or applied, and applied exactly once. */
  const quiesce = async () => {
    const b = await waitFor(backlog, (x) => x.pending === 0 && x.unprocessed === 0 && x.queued === 0);
    expect(b).toEqual({ pending: 0, unprocessed: 0, queued: 0 });
  };

  it('the api publishes through the broker (publisher up) and the worker consumes', async () => {
    const publisher = t.app.get(EventPublisher);
    expect(publisher.enabled).toBe(true);
    expect(
      await waitFor(
        async () => publisher.state(),
        (s) => s === 'up',
      ),
    ).toBe('up');
    for (const q of ALL_CONSUMER_QUEUES)
      expect((await ch.checkQueue(q.name)).consumerCount).toBeGreaterThan(0);
  });

  describe('every route, happy path and one error status', () => {
    it('§3.2 videos: publish (400), listByAuthorID (400), getDetail (404), delete (403, 404, 401)', async () => {
      const author = await createAccount(t, 'vid');
      const res = await post('/video/publish', author, {
        title: ' Broker clip ',
        play_url: 'https://cdn.example.com/b.mp4',
        cover_url: '/static/b.jpg',
      }).expect(200);
      expect(res.body).toEqual({
        id: expect.any(Number),
        author_id: author.id,
        username: author.username,
        title: 'Broker clip',
        description: '',
        play_url: 'https://cdn.example.com/b.mp4',
        cover_url: '/static/b.jpg',
        create_time: expect.any(String),
        likes_count: 0,
        comments_count: 0,
        popularity: 0,
        tags: [],
      });
      expectError(
        await post('/video/publish', author, {
          title: 'x',
          play_url: 'javascript:alert(1)',
          cover_url: '/static/b.jpg',
        }),
        400,
        'VALIDATION_FAILED',
      );

      const second = await publishVideo(t, author);
      const list = await post('/video/listByAuthorID', null, { author_id: author.id }).expect(200);
      expect(list.body.map((v: { id: number }) => v.id)).toEqual([second.id, res.body.id]);
      const page2 = await post('/video/listByAuthorID', null, {
        author_id: author.id,
        limit: 1,
        id_before: second.id,
      }).expect(200);
      expect(page2.body.map((v: { id: number }) => v.id)).toEqual([res.body.id]);
      expectError(await post('/video/listByAuthorID', null, { author_id: 0 }), 400, 'VALIDATION_FAILED');

      expect(await detail(res.body.id)).toEqual(res.body);
      expectError(await post('/video/getDetail', null, { id: UNKNOWN }), 404, 'NOT_FOUND', 'video not found');

      expectError(await post('/video/delete', bob, { id: second.id }), 403, 'FORBIDDEN');
      expectError(await post('/video/delete', author, { id: UNKNOWN }), 404, 'NOT_FOUND');
      expectError(await post('/video/delete', null, { id: second.id }), 401, 'UNAUTHENTICATED');
      await detail(second.id); // cached now: the delete must drop it at once
      expect((await post('/video/delete', author, { id: second.id }).expect(200)).body).toEqual({
        message: expect.any(String),
      });
      expectError(await post('/video/getDetail', null, { id: second.id }), 404, 'NOT_FOUND');
      const after = await post('/video/listByAuthorID', null, { author_id: author.id }).expect(200);
      expect(after.body.map((v: { id: number }) => v.id)).toEqual([res.body.id]);
    });

    it('§3.3 likes: like (409, 404), unlike (409), isLiked (404), listMyLikedVideos (401)', async () => {
      const fan = await createAccount(t, 'lk');
      const v = await publishVideo(t, alice);
      const w = await publishVideo(t, alice);
      expect((await post('/like/isLiked', fan, { video_id: v.id }).expect(200)).body).toEqual({
        is_liked: false,
      });
      expect((await post('/like/like', fan, { video_id: v.id }).expect(200)).body).toEqual({
        message: expect.any(String),
      });
      expect((await post('/like/isLiked', fan, { video_id: v.id }).expect(200)).body).toEqual({
        is_liked: true,
      });
      expectError(await post('/like/like', fan, { video_id: v.id }), 409, 'CONFLICT', 'already liked');
      expectError(await post('/like/like', fan, { video_id: UNKNOWN }), 404, 'NOT_FOUND', 'video not found');
      expectError(await post('/like/isLiked', fan, { video_id: UNKNOWN }), 404, 'NOT_FOUND');
      await detailConverges(v.id, { likes_count: 1, popularity: 1 });

      await post('/like/like', fan, { video_id: w.id }).expect(200);
      const mine = await post('/like/listMyLikedVideos', fan, {}).expect(200);
      expect(mine.body.map((x: { id: number }) => x.id)).toEqual([w.id, v.id]);
      expect(mine.body[0]).toMatchObject({ id: w.id, author_id: alice.id, like_id: expect.any(Number) });
      const p2 = await post('/like/listMyLikedVideos', fan, {
        limit: 1,
        id_before: mine.body[0].like_id,
      }).expect(200);
      expect(p2.body.map((x: { id: number }) => x.id)).toEqual([v.id]);
      expectError(await post('/like/listMyLikedVideos', null, {}), 401, 'UNAUTHENTICATED');

      expect((await post('/like/unlike', fan, { video_id: v.id }).expect(200)).body).toEqual({
        message: expect.any(String),
      });
      expect((await post('/like/isLiked', fan, { video_id: v.id }).expect(200)).body).toEqual({
        is_liked: false,
      });
      expectError(await post('/like/unlike', fan, { video_id: v.id }), 409, 'CONFLICT', 'not liked');
      await detailConverges(v.id, { likes_count: 0, popularity: 0 });
      await detailConverges(w.id, { likes_count: 1, popularity: 1 });
    });

    it('§3.4 comments: publish (404, 400), listAll (404), delete (403, 404)', async () => {
      const v = await publishVideo(t, alice);
      const c = await post('/comment/publish', bob, { video_id: v.id, content: ' hello ' }).expect(200);
      expect(c.body).toEqual({
        id: expect.any(Number),
        video_id: v.id,
        author_id: bob.id,
        username: bob.username,
        content: 'hello',
        created_at: expect.any(String),
      });
      expectError(await post('/comment/publish', bob, { video_id: UNKNOWN, content: 'x' }), 404, 'NOT_FOUND');
      expectError(
        await post('/comment/publish', bob, { video_id: v.id, content: '  ' }),
        400,
        'VALIDATION_FAILED',
      );
      const c2 = await publishComment(t, alice, v.id, 'second');

      expect((await post('/comment/listAll', null, { video_id: v.id }).expect(200)).body).toEqual([
        c.body,
        c2,
      ]);
      const after = await post('/comment/listAll', null, {
        video_id: v.id,
        limit: 1,
        id_after: c.body.id,
      }).expect(200);
      expect(after.body.map((x: { id: number }) => x.id)).toEqual([c2.id]);
      expectError(await post('/comment/listAll', null, { video_id: UNKNOWN }), 404, 'NOT_FOUND');
      await detailConverges(v.id, { comments_count: 2, popularity: 2 });

      expectError(await post('/comment/delete', alice, { comment_id: c.body.id }), 403, 'FORBIDDEN');
      expectError(
        await post('/comment/delete', bob, { comment_id: UNKNOWN }),
        404,
        'NOT_FOUND',
        'comment not found',
      );
      expect((await post('/comment/delete', bob, { comment_id: c.body.id }).expect(200)).body).toEqual({
        message: expect.any(String),
      });
      expect((await post('/comment/listAll', null, { video_id: v.id }).expect(200)).body).toEqual([c2]);
      await detailConverges(v.id, { comments_count: 1, popularity: 1 });
    });

    it('§3.5 social: follow (400, 404, 409), unfollow (409), getAllFollowers, getAllVloggers, getCounts (401)', async () => {
      const [vl, fan] = await createAccounts(t, 2, 'so');
      expect((await post('/social/follow', fan, { vlogger_id: vl.id }).expect(200)).body).toEqual({
        message: expect.any(String),
      });
      expectError(await post('/social/follow', fan, { vlogger_id: fan.id }), 400, 'VALIDATION_FAILED');
      expectError(
        await post('/social/follow', fan, { vlogger_id: UNKNOWN }),
        404,
        'NOT_FOUND',
        'account not found',
      );
      expectError(
        await post('/social/follow', fan, { vlogger_id: vl.id }),
        409,
        'CONFLICT',
        'already following',
      );

      expect((await post('/social/getAllVloggers', fan, {}).expect(200)).body).toEqual({
        vloggers: [
          { id: vl.id, username: vl.username, avatar_url: '', bio: '', follow_id: expect.any(Number) },
        ],
        vlogger_count: 1,
      });
      expect((await post('/social/getAllFollowers', fan, { vlogger_id: vl.id }).expect(200)).body).toEqual({
        followers: [
          { id: fan.id, username: fan.username, avatar_url: '', bio: '', follow_id: expect.any(Number) },
        ],
        follower_count: 1,
      });
      expectError(await post('/social/getAllFollowers', fan, { vlogger_id: UNKNOWN }), 404, 'NOT_FOUND');
      expectError(await post('/social/getAllVloggers', null, {}), 401, 'UNAUTHENTICATED');
      expectError(await post('/social/getCounts', null, {}), 401, 'UNAUTHENTICATED');
      await countsConverge(vl.id, { follower_count: 1, vlogger_count: 0 });
      await countsConverge(fan.id, { follower_count: 0, vlogger_count: 1 });
      const own = await waitFor(
        async () => (await post('/social/getCounts', fan, {}).expect(200)).body as { vlogger_count: number },
        (c) => c.vlogger_count === 1,
      );
      expect(own).toEqual({ follower_count: 0, vlogger_count: 1 });

      expect((await post('/social/unfollow', fan, { vlogger_id: vl.id }).expect(200)).body).toEqual({
        message: expect.any(String),
      });
      expectError(
        await post('/social/unfollow', fan, { vlogger_id: vl.id }),
        409,
        'CONFLICT',
        'not following',
      );
      expect((await post('/social/getAllVloggers', fan, {}).expect(200)).body).toEqual({
        vloggers: [],
        vlogger_count: 0,
      });
      await countsConverge(vl.id, { follower_count: 0, vlogger_count: 0 });
      await countsConverge(fan.id, { follower_count: 0, vlogger_count: 0 });
    });
  });

  it('counters converge through the worker; outbox settled; processed_events one row per event', async () => {
    const star = await createAccount(t, 'star');
    const fans = await createAccounts(t, 6, 'cv');
    const v = await publishVideo(t, star);
    const w = await publishVideo(t, star);
    await detail(v.id); // cached: every derived update must invalidate it
    const outboxBefore = await num('SELECT COALESCE(MAX(id), 0) AS n FROM outbox');

    await Promise.all(
      fans.map(async (f, i) => {
        await post('/like/like', f, { video_id: v.id }).expect(200);
        await post('/comment/publish', f, { video_id: v.id, content: `c${i}` }).expect(200);
        if (i % 2 === 0) await post('/like/like', f, { video_id: w.id }).expect(200);
        if (i % 3 === 0) await post('/like/unlike', f, { video_id: v.id }).expect(200);
        await post('/social/follow', f, { vlogger_id: star.id }).expect(200);
        if (i > 0) await post('/social/follow', f, { vlogger_id: fans[0].id }).expect(200);
      }),
    );
    // 6 likes − 2 unlikes = 4, 6 comments; w: 3 likes.
    await detailConverges(v.id, { likes_count: 4, comments_count: 6, popularity: 10 });
    await detailConverges(w.id, { likes_count: 3, comments_count: 0, popularity: 3 });
    await countsConverge(star.id, { follower_count: 6, vlogger_count: 0 });
    await countsConverge(fans[0].id, { follower_count: 5, vlogger_count: 1 });
    await countsConverge(fans[1].id, { follower_count: 0, vlogger_count: 2 });

    await quiesce();
    const rows = await t.sql<{ status: number; n: number }>(
      'SELECT status, COUNT(*) AS n FROM outbox WHERE id > ? GROUP BY status',
      [outboxBefore],
    );
    const byStatus = Object.fromEntries(rows.map((r) => [Number(r.status), Number(r.n)]));
    // like/unlike/comment: the event and its popularity event; follow: one event.
    const expected = (6 + 3 + 2) * 2 + 6 * 2 + (6 + 5);
    expect((byStatus[OutboxStatus.Sent] ?? 0) + (byStatus[OutboxStatus.Applied] ?? 0)).toBe(expected);
    expect(byStatus[OutboxStatus.Pending] ?? 0).toBe(0);
    // One processed_events row per outbox event, none without one, none extra.
    expect(await num('SELECT COUNT(*) AS n FROM processed_events')).toBe(
      await num('SELECT COUNT(*) AS n FROM outbox'),
    );
    expect(
      await num(
        'SELECT COUNT(*) AS n FROM processed_events p WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = p.event_id)',
      ),
    ).toBe(0);
    expect(await deadLettered()).toBe(0);
    expect(await recountAll(t.app.get(Database))).toEqual(ZERO_RECOUNT);
  });

  it('read-your-writes with the worker stopped; the counters converge once it restarts', async () => {
    const [owner, fan, other] = await createAccounts(t, 3, 'ryw');
    const v = await publishVideo(t, owner);
    await quiesce();
    const outboxBefore = await num('SELECT COALESCE(MAX(id), 0) AS n FROM outbox');
    await worker!.close();
    worker = undefined;

    await post('/like/like', fan, { video_id: v.id }).expect(200);
    expect((await post('/like/isLiked', fan, { video_id: v.id }).expect(200)).body).toEqual({
      is_liked: true,
    });
    await post('/like/like', other, { video_id: v.id }).expect(200);
    await post('/like/unlike', other, { video_id: v.id }).expect(200);
    expect((await post('/like/isLiked', other, { video_id: v.id }).expect(200)).body).toEqual({
      is_liked: false,
    });
    const c = await post('/comment/publish', fan, { video_id: v.id, content: 'while stopped' }).expect(200);
    expect((await post('/comment/listAll', null, { video_id: v.id }).expect(200)).body).toEqual([c.body]);
    await post('/social/follow', fan, { vlogger_id: owner.id }).expect(200);
    const vloggers = await post('/social/getAllVloggers', fan, {}).expect(200);
    expect(vloggers.body.vloggers.map((a: { id: number }) => a.id)).toEqual([owner.id]);
    const mine = await post('/like/listMyLikedVideos', fan, {}).expect(200);
    expect(mine.body.map((x: { id: number }) => x.id)).toEqual([v.id]);

    // Nothing consumes: each event the broker confirmed waits in its durable queue.
    const phase = async () => {
      const rows = await t.sql<{ status: number; n: number }>(
        'SELECT status, COUNT(*) AS n FROM outbox WHERE id > ? GROUP BY status',
        [outboxBefore],
      );
      return Object.fromEntries(rows.map((r) => [Number(r.status), Number(r.n)])) as Record<number, number>;
    };
    const settled = await waitFor(phase, (p) => !p[OutboxStatus.Pending]);
    expect(settled[OutboxStatus.Pending] ?? 0).toBe(0);
    // 3 like/unlike + 1 comment, each with a popularity event, + 1 follow.
    expect((settled[OutboxStatus.Sent] ?? 0) + (settled[OutboxStatus.Applied] ?? 0)).toBe(9);
    // Each confirmed event waits in every queue bound to its key.
    const sent = await t.sql<{ routing_key: RoutingKey }>(
      'SELECT routing_key FROM outbox WHERE id > ? AND status = ?',
      [outboxBefore, OutboxStatus.Sent],
    );
    expect(sent).toHaveLength(settled[OutboxStatus.Sent] ?? 0);
    const copies = sent.map((r) => boundQueues(r.routing_key).length);
    expect(await queued()).toBe(copies.reduce((a, b) => a + b, 0));

    worker = await startWorker(t.testEnv, { migrate: false });
    await detailConverges(v.id, { likes_count: 1, comments_count: 1, popularity: 2 });
    await countsConverge(owner.id, { follower_count: 1, vlogger_count: 0 });
    await countsConverge(fan.id, { follower_count: 0, vlogger_count: 1 });
    await quiesce();
    expect(await recountAll(t.app.get(Database))).toEqual(ZERO_RECOUNT);
  });

  it('20 identical likes in parallel: one 200, nineteen 409, likes_count converges to 1', async () => {
    const v = await publishVideo(t, alice);
    const fan = await createAccount(t, 'par');
    await detail(v.id);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => post('/like/like', fan, { video_id: v.id })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    expect(await num('SELECT COUNT(*) AS n FROM likes WHERE video_id = ?', [v.id])).toBe(1);
    await detailConverges(v.id, { likes_count: 1, popularity: 1 });
    await quiesce();
    // Still 1 once everything is applied (nothing counted twice).
    expect(await detail(v.id)).toMatchObject({ likes_count: 1, popularity: 1 });
  });

  it('video delete while events are in flight: counts stay consistent, recount changes nothing', async () => {
    const owner = await createAccount(t, 'del');
    const fans = await createAccounts(t, 8, 'dl');
    const doomed = await publishVideo(t, owner);
    const kept = await publishVideo(t, owner);
    const writes = fans.flatMap((f, i) => [
      post('/like/like', f, { video_id: doomed.id }),
      post('/comment/publish', f, { video_id: doomed.id, content: `d${i}` }),
      post('/like/like', f, { video_id: kept.id }),
      post('/comment/publish', f, { video_id: kept.id, content: `k${i}` }),
    ]);
    // The delete races the interactions and the worker applying their events.
    const [del, ...results] = await Promise.all([
      new Promise((r) => setImmediate(r)).then(() => post('/video/delete', owner, { id: doomed.id })),
      ...writes,
    ]);
    expect(del.status).toBe(200);
    for (const r of results) expect([200, 404]).toContain(r.status);
    for (const r of results.filter((_, i) => i % 4 >= 2)) expect(r.status).toBe(200);

    expectError(await post('/video/getDetail', null, { id: doomed.id }), 404, 'NOT_FOUND');
    await detailConverges(kept.id, { likes_count: 8, comments_count: 8, popularity: 16 });
    await quiesce();
    expect(await num('SELECT COUNT(*) AS n FROM likes WHERE video_id = ?', [doomed.id])).toBe(0);
    expect(await num('SELECT COUNT(*) AS n FROM comments WHERE video_id = ?', [doomed.id])).toBe(0);
    expect(await recountAll(t.app.get(Database))).toEqual(ZERO_RECOUNT);
    expect(await deadLettered()).toBe(0);
  });

  it('video delete with its events still queued (worker stopped): recount changes nothing after the drain', async () => {
    const owner = await createAccount(t, 'dq');
    const fans = await createAccounts(t, 4, 'dq');
    const doomed = await publishVideo(t, owner);
    const kept = await publishVideo(t, owner);
    await quiesce();
    await worker!.close();
    worker = undefined;
    for (const f of fans) {
      await post('/like/like', f, { video_id: doomed.id }).expect(200);
      await post('/comment/publish', f, { video_id: doomed.id, content: 'soon gone' }).expect(200);
      await post('/like/like', f, { video_id: kept.id }).expect(200);
    }
    await post('/video/delete', owner, { id: doomed.id }).expect(200);
    expectError(await post('/video/getDetail', null, { id: doomed.id }), 404, 'NOT_FOUND');

    worker = await startWorker(t.testEnv, { migrate: false });
    await detailConverges(kept.id, { likes_count: 4, comments_count: 0, popularity: 4 });
    await quiesce();
    expectError(await post('/video/getDetail', null, { id: doomed.id }), 404, 'NOT_FOUND');
    expect(await recountAll(t.app.get(Database))).toEqual(ZERO_RECOUNT);
    expect(await deadLettered()).toBe(0);
  });
});
