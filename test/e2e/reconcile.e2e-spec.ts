import { createConnection } from 'mysql2/promise';
import { makeEvent, OutboxStatus, type DomainEvent } from '@app/events';
import { CounterReconciler } from '../../apps/worker/src/counter-reconciler.service';
import { WorkerHttp } from '../../apps/worker/src/worker-http.service';
import { createAccounts, type TestAccount } from '../factories/accounts';
import { publishVideo } from '../factories/videos';
import { startApp, type TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';
import { startWorker, type TestWorker } from '../helpers/worker';

/**
 * Counts heal themselves (issue 15): the worker's reconciliation fixes a counter changed behind
 * the system's back and reports it, applies an event that got stuck (written, never applied,
 * nothing left in the queues), and leaves alone an entity whose event is still in flight.
 */
const describeBroker = PROFILES.includes('full') ? describe : describe.skip;

describeBroker('counter reconciliation (MariaDB + Redis + RabbitMQ + worker)', () => {
  let t: TestApp;
  let worker: TestWorker;
  let reconciler: CounterReconciler;
  let a: TestAccount;
  let b: TestAccount;
  let c: TestAccount;

  const video = async (id: number): Promise<{ l: number; c: number; p: number }> => {
    const [row] = await t.sql<{ l: number; c: number; p: number }>(
      'SELECT likes_count AS l, comments_count AS c, popularity AS p FROM videos WHERE id = ?',
      [id],
    );
    return { l: Number(row.l), c: Number(row.c), p: Number(row.p) };
  };
  const until = async (check: () => Promise<boolean>, ms = 10000): Promise<void> => {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** An outbox row as an api writes it, `ageMs` old, its message never published. */
  const unpublished = async (events: DomainEvent[], ageMs: number): Promise<void> => {
    const at = Date.now() - ageMs;
    for (const e of events) {
      await t.sql(
        'INSERT INTO outbox (event_id, exchange, routing_key, payload, status, attempts, create_time, update_time) VALUES (?, ?, ?, ?, ?, 0, ?, ?)',
        [e.payload.event_id, 'x', e.routingKey, JSON.stringify(e.payload), OutboxStatus.Sent, at, at],
      );
    }
  };
  /**
   * A like's two events (`unpublished` or committed late), published now: applied once by the
   * consumers, in either order (two queues), and a pass then finds the counts exact.
   */
  const likeArrives = async (videoId: number, events: DomainEvent[]): Promise<void> => {
    for (const e of events) {
      await t.sql('UPDATE outbox SET status = ? WHERE event_id = ?', [
        OutboxStatus.Pending,
        e.payload.event_id,
      ]);
    }
    await worker.relay.runOnce(0);
    await until(async () => {
      const now = await video(videoId);
      return now.l === 1 && now.p === 1;
    });
    expect(await video(videoId)).toEqual({ l: 1, c: 0, p: 1 });
    const after = await reconciler.runOnce();
    expect(Object.values(after.fixed).reduce((x, y) => x + y, 0)).toBe(0);
  };
  const metrics = async (): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${worker.app.get(WorkerHttp).port}/metrics`);
    return res.text();
  };

  beforeAll(async () => {
    t = await startApp('full', { amqp: true });
    worker = await startWorker(t.testEnv, { migrate: false, env: { RECONCILE_EVERY: 'off' } });
    reconciler = worker.app.get(CounterReconciler);
    [a, b, c] = await createAccounts(t, 3, 'rc');
  });

  afterAll(async () => {
    await worker?.close();
    await t?.close();
  });

  it('everything exact: a pass reads and fixes nothing', async () => {
    const v = await publishVideo(t, a);
    await t.http.post('/like/like').set('Authorization', b.auth).send({ video_id: v.id }).expect(200);
    await t.http.post('/social/follow').set('Authorization', b.auth).send({ vlogger_id: a.id }).expect(200);
    await until(async () => (await video(v.id)).l === 1);
    await until(async () => (await reconciler.runOnce()).checked > 0);
    const run = await reconciler.runOnce();
    expect(run.stuckApplied).toBe(0);
    expect(Object.values(run.fixed).reduce((x, y) => x + y, 0)).toBe(0);
  });

  it('fixes a counter changed behind the system’s back, and reports it on /metrics', async () => {
    const v = await publishVideo(t, a);
    await t.http.post('/like/like').set('Authorization', c.auth).send({ video_id: v.id }).expect(200);
    await until(async () => (await video(v.id)).l === 1);
    await t.sql('UPDATE videos SET likes_count = 7 WHERE id = ?', [v.id]);
    await t.sql('UPDATE accounts SET follower_count = follower_count + 3 WHERE id = ?', [a.id]);
    const run = await reconciler.runOnce();
    expect(run.fixed.likes_count).toBe(1);
    expect(run.fixed.follower_count).toBe(1);
    expect(run.fixed.popularity).toBe(0);
    expect(await video(v.id)).toEqual({ l: 1, c: 0, p: 1 });
    const [acc] = await t.sql<{ f: number }>('SELECT follower_count AS f FROM accounts WHERE id = ?', [a.id]);
    expect(Number(acc.f)).toBe(1);
    // The detail cache was dropped: the api shows the fixed count at once.
    const detail = await t.http.post('/video/getDetail').send({ id: v.id }).expect(200);
    expect(detail.body.likes_count).toBe(1);
    const text = await metrics();
    expect(text).toMatch(/reconcile_fixed_total\{counter="likes_count"\} 1/);
    expect(text).toMatch(/reconcile_fixed_total\{counter="follower_count"\} 1/);
  });

  it('a shared page that showed the wrong count shows the fixed one right after the fix, not 5 s later', async () => {
    const tag = `rc${Date.now().toString(36)}`;
    const v = await publishVideo(t, a, { title: `fixed #${tag}` });
    await t.sql('UPDATE videos SET likes_count = 7 WHERE id = ?', [v.id]);
    const page = async (): Promise<number[]> => {
      const res = await t.http.post('/feed/listByTag').send({ tag_name: tag, limit: 10 }).expect(200);
      return (res.body.video_list as { likes_count: number }[]).map((i) => i.likes_count);
    };
    expect(await page()).toEqual([7]); // built from the row as it is now, and held for the next 5 s
    const run = await reconciler.runOnce();
    expect(run.fixed.likes_count).toBeGreaterThanOrEqual(1);
    expect(await video(v.id)).toMatchObject({ l: 0 });
    expect(await page()).toEqual([0]);
  });

  it('applies a stuck event (written, never applied, queues empty) exactly once', async () => {
    const v = await publishVideo(t, a);
    // A like whose events were written but lost on the way: the row is there, the counters are not.
    await t.sql('INSERT INTO likes (video_id, account_id, create_time) VALUES (?, ?, ?)', [
      v.id,
      c.id,
      Date.now(),
    ]);
    await unpublished(
      [
        makeEvent('like.like', { account_id: c.id, video_id: v.id }),
        makeEvent('video.popularity.update', { video_id: v.id, delta: 1, reason: 'like' }),
      ],
      20 * 60 * 1000,
    );
    expect(await video(v.id)).toEqual({ l: 0, c: 0, p: 0 });
    const run = await reconciler.runOnce();
    expect(run.stuckApplied).toBe(2);
    expect(Object.values(run.fixed).reduce((x, y) => x + y, 0)).toBe(0);
    expect(await video(v.id)).toEqual({ l: 1, c: 0, p: 1 });
    // Again: nothing more (the events are recorded as applied).
    const again = await reconciler.runOnce();
    expect(again.stuckApplied).toBe(0);
    expect(await video(v.id)).toEqual({ l: 1, c: 0, p: 1 });
    expect(await metrics()).toMatch(/reconcile_stuck_events_applied_total 2/);
  });

  it('leaves an entity whose event is still in flight alone (its counter lags legitimately)', async () => {
    const v = await publishVideo(t, a);
    await t.sql('INSERT INTO likes (video_id, account_id, create_time) VALUES (?, ?, ?)', [
      v.id,
      b.id,
      Date.now(),
    ]);
    const events = [
      makeEvent('like.like', { account_id: b.id, video_id: v.id }),
      makeEvent('video.popularity.update', { video_id: v.id, delta: 1, reason: 'like' }),
    ];
    await unpublished(events, 1000);
    const run = await reconciler.runOnce();
    expect(run.fixed.likes_count).toBe(0);
    expect(await video(v.id)).toEqual({ l: 0, c: 0, p: 0 });
    // The message arrives after all: applied once, by the consumer, and the counts agree.
    await likeArrives(v.id, events);
  });

  it('an event whose outbox row commits after the scan read past its id is in flight, not drift', async () => {
    const v = await publishVideo(t, a);
    await reconciler.runOnce(); // its mark now at the outbox's end
    const insertOutbox =
      'INSERT INTO outbox (event_id, exchange, routing_key, payload, status, attempts, create_time, update_time) VALUES (?, ?, ?, ?, ?, 0, ?, ?)';
    const row = (e: DomainEvent): unknown[] => {
      const now = Date.now();
      return [e.payload.event_id, 'x', e.routingKey, JSON.stringify(e.payload), OutboxStatus.Sent, now, now];
    };
    const events = [
      makeEvent('like.like', { account_id: c.id, video_id: v.id }),
      makeEvent('video.popularity.update', { video_id: v.id, delta: 1, reason: 'like' }),
    ];
    const conn = await createConnection(t.testEnv.env.DATABASE_URL);
    try {
      // A like's transaction, as an api writes it: the video under a shared lock held to commit,
      // the like row and its events (their outbox ids taken now, seen at commit).
      await conn.beginTransaction();
      await conn.query('SELECT id FROM videos WHERE id = ? LOCK IN SHARE MODE', [v.id]);
      await conn.query('INSERT INTO likes (video_id, account_id, create_time) VALUES (?, ?, ?)', [
        v.id,
        c.id,
        Date.now(),
      ]);
      for (const e of events) await conn.query(insertOutbox, row(e));
      // A later event of the same video, committed (and applied) first: the scan reads past the
      // like's ids while they are not visible yet.
      const later = makeEvent('video.popularity.update', { video_id: v.id, delta: 0, reason: 'like' });
      await t.sql(insertOutbox, row(later));
      await t.sql('INSERT INTO processed_events (event_id, routing_key, processed_at) VALUES (?, ?, ?)', [
        later.payload.event_id,
        later.routingKey,
        Date.now(),
      ]);
      const pass = reconciler.runOnce();
      // The pass's check waits for the video's lock; the like commits meanwhile.
      await until(
        async () =>
          (
            await t.sql<{ n: number }>(
              "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'",
            )
          ).map((r) => Number(r.n))[0] > 0,
        900,
      );
      await conn.commit();
      const run = await pass;
      expect(run.fixed).toEqual({
        likes_count: 0,
        comments_count: 0,
        popularity: 0,
        follower_count: 0,
        vlogger_count: 0,
      });
      expect(await video(v.id)).toEqual({ l: 0, c: 0, p: 0 });
    } finally {
      await conn.end();
    }
    // Its messages arrive: applied once, and the counts agree with the rows.
    await likeArrives(v.id, events);
  });

  it('the worker’s /healthz reports the database, the broker, consumption and the dead-letter queues', async () => {
    const res = await fetch(`http://127.0.0.1:${worker.app.get(WorkerHttp).port}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'ok', database: 'up', rabbitmq: 'up', consumption: 'consuming' });
    expect(body.dead_letters).toEqual({
      'like.worker.dlq': 0,
      'comment.worker.dlq': 0,
      'social.worker.dlq': 0,
      'popularity.worker.dlq': 0,
      'hot.worker.dlq': 0,
      'video.worker.dlq': 0,
    });
    expect(await metrics()).toMatch(/worker_events_total\{queue="like\.worker",outcome="applied"\} \d+/);
  });
});
