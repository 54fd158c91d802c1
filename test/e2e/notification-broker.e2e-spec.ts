import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import {
  EventApplier,
  EventPublisher,
  makeEvent,
  type DomainEvent,
  type LikeEventPayload,
} from '@app/events';
import { createAccounts, TestAccount } from '../factories/accounts';
import { publishComment, publishVideo } from '../factories/videos';
import { startApp, TestApp } from '../helpers/test-app';
import { TcpProxy } from '../helpers/tcp-proxy';
import { AMQP_BASE } from '../helpers/test-env';
import { startWorker, TestWorker } from '../helpers/worker';
import { listen, SseClient } from './notification-sse';

/**
 * SPEC §8.4 with the broker: MariaDB + Redis + RabbitMQ, the api in-process with its broker
 * connection behind a TCP proxy (so the broker can be taken away from the api alone), and the real
 * worker in-process on a direct connection. Notifications are created by the worker's handlers,
 * reach the api's streams through Redis pub/sub, and stay exactly once per event through
 * redeliveries, the api's direct apply and a stopped worker.
 */
jest.setTimeout(120_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await fn();
  while (!ok(v) && Date.now() < end) {
    await sleep(50);
    v = await fn();
  }
  return v;
}

describe('notifications through the broker and the worker (full)', () => {
  const amqpUrl = new URL(AMQP_BASE);
  const proxy = new TcpProxy(amqpUrl.hostname, Number(amqpUrl.port || 5672));
  let t: TestApp;
  let worker: TestWorker | undefined;
  let port: number;
  let amqp: ChannelModel;
  let ch: ConfirmChannel;
  const clients: SseClient[] = [];

  beforeAll(async () => {
    await proxy.start();
    t = await startApp('full', {
      amqp: true,
      amqpBase: `amqp://${amqpUrl.username}:${amqpUrl.password}@127.0.0.1:${proxy.port}`,
    });
    const direct = `${AMQP_BASE}/${t.testEnv.vhost}`;
    worker = await startWorker(t.testEnv, { migrate: false, env: { AMQP_URL: direct } });
    port = await listen(t.app);
    amqp = await connect(direct);
    amqp.on('error', () => undefined);
    ch = await amqp.createConfirmChannel();
    ch.on('error', () => undefined);
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await worker?.close().catch(() => undefined);
    await amqp?.close().catch(() => undefined);
    await t?.close();
    await proxy.stop();
  });

  const post = (route: string, who: TestAccount | null, body: object) => {
    const req = t.http.post(route);
    if (who) void req.set('Authorization', who.auth);
    return req.send(body);
  };
  const stream = async (who: TestAccount): Promise<SseClient> => {
    const c = await SseClient.open(port, `/notification/stream?token=${who.token}`);
    expect(c.status).toBe(200);
    clients.push(c);
    return c;
  };
  const rows = (recipient: number) =>
    t.sql<{ id: number; type: string; actor_id: number; video_id: number; event_id: string }>(
      'SELECT id, type, actor_id, video_id, event_id FROM notifications WHERE recipient_id = ? ORDER BY id',
      [recipient],
    );
  const rowsSettle = (recipient: number, n: number) =>
    waitFor(
      () => rows(recipient),
      (r) => r.length >= n,
    );
  const likeEventsOf = async (actor: number, video: number): Promise<DomainEvent<'like.like'>[]> =>
    (
      await t.sql<{ payload: string }>(
        "SELECT payload FROM outbox WHERE routing_key = 'like.like' ORDER BY id",
      )
    )
      .map((r) => JSON.parse(r.payload) as LikeEventPayload)
      .filter((p) => p.account_id === actor && p.video_id === video)
      .map((payload) => ({ routingKey: 'like.like' as const, payload }));

  it('the worker creates them once per event and per (actor, target); the api stream gets each at once', async () => {
    const [alice, bob, carol, dave] = await createAccounts(t, 4, 'bw');
    const v = await publishVideo(t, alice);
    const s = await stream(alice);
    const d = await stream(dave);
    await post('/like/like', bob, { video_id: v.id }).expect(200);
    await post('/like/unlike', bob, { video_id: v.id }).expect(200);
    await post('/like/like', bob, { video_id: v.id }).expect(200);
    const c = await publishComment(t, carol, v.id, `cc @${dave.username}`);
    await post('/social/follow', bob, { vlogger_id: alice.id }).expect(200);
    await post('/social/unfollow', bob, { vlogger_id: alice.id }).expect(200);
    await post('/social/follow', bob, { vlogger_id: alice.id }).expect(200);

    const mine = await rowsSettle(alice.id, 3);
    expect(mine.map((r) => [r.type, Number(r.actor_id)]).sort()).toEqual(
      [
        ['comment', carol.id],
        ['follow', bob.id],
        ['like', bob.id],
      ].sort(),
    );
    await s.count(3);
    expect(
      s
        .notifications()
        .map((n) => n.id)
        .sort((a, b) => a - b),
    ).toEqual(mine.map((r) => Number(r.id)));
    await d.next((e) => e.event === 'notification');
    expect(d.notifications()).toEqual([expect.objectContaining({ type: 'mention', comment_id: c.id })]);
    // Every event was applied (the unlike's and unfollow's too): nothing more arrives.
    await sleep(1000);
    expect(await rows(alice.id)).toHaveLength(3);
    expect(s.notifications()).toHaveLength(3);
  });

  it('a redelivered event, a copy applied directly by the api, and a new like of the same pair notify once', async () => {
    const [alice, bob] = await createAccounts(t, 2, 'bd');
    const v = await publishVideo(t, alice);
    const s = await stream(alice);
    await post('/like/like', bob, { video_id: v.id }).expect(200);
    const [first] = await rowsSettle(alice.id, 1);
    await s.count(1);
    const [event] = await likeEventsOf(bob.id, v.id);
    expect(first.event_id).toBe(event.payload.event_id);

    // The same message twice on the broker, and the api's direct apply of it.
    for (let i = 0; i < 2; i++) {
      ch.publish('like.events', 'like.like', Buffer.from(JSON.stringify(event.payload)), {
        messageId: event.payload.event_id,
        persistent: true,
      });
    }
    await ch.waitForConfirms();
    await t.app.get(EventApplier).applyDirectly([event]);
    // A new event for the same (actor, video), as after unlike + like.
    const again = makeEvent('like.like', { account_id: bob.id, video_id: v.id });
    await t.app.get(EventApplier).applyDirectly([again]);
    const processed = await waitFor(
      () =>
        t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM processed_events WHERE event_id IN (?, ?)', [
          event.payload.event_id,
          again.payload.event_id,
        ]),
      (r) => Number(r[0].n) === 2,
    );
    expect(Number(processed[0].n)).toBe(2);
    await sleep(1000);
    expect((await rows(alice.id)).map((r) => Number(r.id))).toEqual([Number(first.id)]);
    expect(s.notifications().map((n) => n.id)).toEqual([Number(first.id)]);
  });

  it('with the worker stopped nothing is lost: the queued events notify when it is back', async () => {
    const [alice, bob] = await createAccounts(t, 2, 'bs');
    const v = await publishVideo(t, alice);
    const s = await stream(alice);
    await worker!.close();
    worker = undefined;
    await post('/like/like', bob, { video_id: v.id }).expect(200);
    await sleep(500);
    expect(await rows(alice.id)).toEqual([]);
    expect(s.notifications()).toEqual([]);
    worker = await startWorker(t.testEnv, {
      migrate: false,
      env: { AMQP_URL: `${AMQP_BASE}/${t.testEnv.vhost}` },
    });
    const [row] = await rowsSettle(alice.id, 1);
    await s.count(1);
    expect(s.notifications()[0]).toMatchObject({ id: Number(row.id), type: 'like', actor: { id: bob.id } });
  });

  it('with the broker down the api applies directly: the notification exists when the write answers', async () => {
    const [alice, bob] = await createAccounts(t, 2, 'bx');
    const v = await publishVideo(t, alice);
    const s = await stream(alice);
    const publisher = t.app.get(EventPublisher);
    proxy.cut();
    try {
      expect(
        await waitFor(
          async () => publisher.state(),
          (st) => st === 'down',
        ),
      ).toBe('down');
      await post('/like/like', bob, { video_id: v.id }).expect(200);
      const now = await rows(alice.id);
      expect(now.map((r) => [r.type, Number(r.actor_id)])).toEqual([['like', bob.id]]);
      await s.count(1);
      await post('/social/follow', bob, { vlogger_id: alice.id }).expect(200);
      expect(await rows(alice.id)).toHaveLength(2);
      await s.count(2);
    } finally {
      proxy.restore();
    }
    // Back up: nothing is applied twice when the relay or the worker see these events again.
    await waitFor(
      async () => publisher.state(),
      (st) => st === 'up',
      15_000,
    );
    await sleep(1500);
    expect(await rows(alice.id)).toHaveLength(2);
    expect(s.notifications()).toHaveLength(2);
  });
});
