import { Writable } from 'node:stream';
import 'reflect-metadata';
import { Controller, Module, type INestApplicationContext } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { EntityManager } from 'typeorm';
import { NestFactory } from '@nestjs/core';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { CacheModule } from '@app/cache';
import { ConfigModule, Database, DatabaseModule, DependencyUnavailableError, loadConfig } from '@app/core';
import {
  AmqpPublisher,
  CONSUMER_QUEUES,
  ConsumerMetrics,
  EventBus,
  EventPublisher,
  EventsModule,
  makeEvent,
  onQueue,
  OutboxStatus,
  ROUTING_KEYS,
  deadLetterQueueName,
  replayDeadLetters,
  EventApplier,
  HandOff,
  type AfterCommitEffect,
  type DeferredWrite,
  type DomainEvent,
  type EventContext,
  type EventPayloads,
  type RoutingKey,
} from '@app/events';
import { SCHEMA } from '@app/schema';
import { migrate } from '../../apps/api/src/app.factory';
import { createTestEnv, AMQP_BASE, type TestEnv } from '../helpers/test-env';
import { startWorker, type TestWorker } from '../helpers/worker';
import { TcpProxy } from '../helpers/tcp-proxy';
import { waitFor as waitUntil } from '../helpers/wait';

jest.setTimeout(60_000);

/**
 * `@EventPattern` handlers for every routing key that count applications per key and video in a
 * test table (a deferred write, as real handlers do); one id is poison.
 */
const POISON_VIDEO = 666;
const poisonCalls: number[] = [];
/** While set, events of this video fail as if Redis were down (not the message's fault). */
const UNAVAILABLE_VIDEO = 777;
const unavailable = { on: false, calls: 0 };

class CountWrites implements DeferredWrite {
  readonly keys: string[] = [];
  async flush(manager: EntityManager): Promise<void> {
    for (const k of this.keys) {
      await manager.query(
        'INSERT INTO pipeline_counts (k, n) VALUES (?, 1) ON DUPLICATE KEY UPDATE n = n + 1',
        [k],
      );
    }
  }
}

/** The event ids whose after-commit effect ran, in order. */
const effectsRun: string[] = [];

class RecordEffects implements AfterCommitEffect {
  readonly ids: string[] = [];
  run(): Promise<void> {
    effectsRun.push(...this.ids);
    return Promise.resolve();
  }
}

@Controller()
class CountingHandlers {
  @EventPattern([...ROUTING_KEYS])
  count(@Payload() payload: EventPayloads[RoutingKey], @Ctx() ctx: EventContext): void {
    const id = 'video_id' in payload ? payload.video_id : payload.vlogger_id;
    if (id === POISON_VIDEO && poisonCalls.length < 1000) {
      poisonCalls.push(Date.now());
      throw new Error('poison');
    }
    if (id === UNAVAILABLE_VIDEO && unavailable.on) {
      unavailable.calls++;
      throw new DependencyUnavailableError('redis', 'test: Redis is down');
    }
    ctx.apply.defer('pipeline_counts', () => new CountWrites()).keys.push(`${ctx.routingKey}:${id}`);
    ctx.apply.afterCommit('pipeline_effects', () => new RecordEffects()).ids.push(payload.event_id);
  }
}

/** The popularity events whose hot effect ran, and whether their handler ran inside a transaction. */
const hotRuns: { id: string; inTransaction: boolean }[] = [];
/** While set, the hot effect of this video's events fails as the hot buckets' does while Redis is down. */
const HANDOFF_VIDEO = 888;
const handOff = { on: false };

class HotEffect implements AfterCommitEffect {
  readonly runs: { id: string; inTransaction: boolean; video: number }[] = [];
  run(): Promise<void> {
    if (handOff.on && this.runs.some((r) => r.video === HANDOFF_VIDEO)) {
      return Promise.reject(new HandOff(CONSUMER_QUEUES.hot.name, 'redis', 'test: Redis is down'));
    }
    hotRuns.push(...this.runs.map(({ id, inTransaction }) => ({ id, inTransaction })));
    return Promise.resolve();
  }
}

/** The hot buckets' shape: an effect run with the column's lane, and alone in `hot.worker` when handed over. */
@Controller()
class HotQueueHandlers {
  @EventPattern('video.popularity.update', onQueue(CONSUMER_QUEUES.popularity, CONSUMER_QUEUES.hot))
  hot(@Payload() payload: EventPayloads['video.popularity.update'], @Ctx() ctx: EventContext): void {
    ctx.apply
      .afterCommit('hot_effects', () => new HotEffect())
      .runs.push({
        id: payload.event_id,
        inTransaction: ctx.apply.manager.queryRunner?.isTransactionActive === true,
        video: payload.video_id,
      });
  }
}

@Module({ controllers: [CountingHandlers, HotQueueHandlers] })
class CountingHandlersModule {}

@Module({ controllers: [CountingHandlers] })
class NoHotQueueModule {}

/** The api's side of the pipeline without HTTP: EventBus + publisher on the given env. */
async function startProducer(env: Record<string, string>): Promise<INestApplicationContext> {
  const config = loadConfig(env);
  const app = await NestFactory.createApplicationContext(
    {
      module: class ProducerModule {},
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot(SCHEMA),
        CacheModule,
        EventsModule,
        CountingHandlersModule,
      ],
    },
    { logger: ['fatal', 'error'], abortOnError: false },
  );
  await app.init();
  return app;
}

const waitFor = <T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15000): Promise<T> =>
  waitUntil(fn, ok, timeoutMs);

describe('event pipeline (MariaDB + RabbitMQ)', () => {
  let env: TestEnv;
  let producer: INestApplicationContext;
  let worker: TestWorker | undefined;
  let db: Database;
  let bus: EventBus;
  let amqp: ChannelModel;
  let raw: ConfirmChannel;

  const count = async (key: string, id: number): Promise<number> => {
    const rows = await db.query<{ n: number }>('SELECT n FROM pipeline_counts WHERE k = ?', [`${key}:${id}`]);
    return rows.length ? Number(rows[0].n) : 0;
  };
  const outboxStatus = async (eventId: string): Promise<number | null> => {
    const rows = await db.query<{ status: number }>('SELECT status FROM outbox WHERE event_id = ?', [
      eventId,
    ]);
    return rows.length ? Number(rows[0].status) : null;
  };
  const emitLike = (videoId: number, accountId = 1): Promise<DomainEvent[]> =>
    bus.transaction(async (_m, emit) => {
      const events = [
        makeEvent('like.like', { account_id: accountId, video_id: videoId }),
        makeEvent('video.popularity.update', { video_id: videoId, delta: 1, reason: 'like' }),
      ];
      events.forEach(emit);
      return events;
    });
  const queueDepth = async (q: string): Promise<number> => (await raw.checkQueue(q)).messageCount;

  beforeAll(async () => {
    env = await createTestEnv('full', { amqp: true, env: { MAX_DELIVERIES: '3' } });
    const config = loadConfig(env.env);
    await migrate(config);
    producer = await startProducer(env.env);
    db = producer.get(Database);
    bus = producer.get(EventBus);
    await db.query('CREATE TABLE pipeline_counts (k VARCHAR(100) PRIMARY KEY, n INT NOT NULL)');
    amqp = await connect(`${AMQP_BASE}/${env.vhost}`);
    raw = await amqp.createConfirmChannel();
  });

  afterAll(async () => {
    await worker?.close();
    await producer?.close();
    await amqp?.close().catch(() => undefined);
    await env?.cleanup();
  });

  it('the api declares the topology: an event published before any worker ran waits in its queue', async () => {
    expect(producer.get(EventPublisher).state()).toBe('up');
    const [like] = await emitLike(1);
    expect(
      await waitFor(
        () => outboxStatus(like.payload.event_id),
        (st) => st === OutboxStatus.Sent,
        3000,
      ),
    ).toBe(OutboxStatus.Sent);
    expect(await queueDepth(CONSUMER_QUEUES.like.name)).toBe(1);
    expect(await queueDepth(CONSUMER_QUEUES.popularity.name)).toBe(1);
    // Bound to no exchange: it gets only what a lane hands over.
    expect(await queueDepth(CONSUMER_QUEUES.hot.name)).toBe(0);
    expect(await count('like.like', 1)).toBe(0);
  });

  it('the worker refuses to start while a routing key has no handler', async () => {
    await expect(startWorker(env, { domainModules: [], migrate: false })).rejects.toThrow(
      /no @EventPattern handler for: like\.like/,
    );
  });

  it("the worker refuses to start while one of its queues' routing keys has no handler in that queue", async () => {
    await expect(startWorker(env, { domainModules: [NoHotQueueModule], migrate: false })).rejects.toThrow(
      /no @EventPattern handler for: video\.popularity\.update \(hot\.worker\)/,
    );
  });

  it('the worker drains the queues and applies each event once', async () => {
    worker = await startWorker(env, { domainModules: [CountingHandlersModule], migrate: false });
    expect(
      await waitFor(
        () => count('like.like', 1),
        (n) => n === 1,
      ),
    ).toBe(1);
    expect(
      await waitFor(
        () => count('video.popularity.update', 1),
        (n) => n === 1,
      ),
    ).toBe(1);
    const emitted = await Promise.all(Array.from({ length: 50 }, () => emitLike(2)));
    expect(
      await waitFor(
        () => count('like.like', 2),
        (n) => n === 50,
      ),
    ).toBe(50);
    expect(
      await waitFor(
        () => count('video.popularity.update', 2),
        (n) => n === 50,
      ),
    ).toBe(50);
    // Each popularity event's hot effect ran once, with its column, in the popularity lane's transaction.
    const popularityIds = emitted.map(([, popularity]) => popularity.payload.event_id);
    const ran = (): typeof hotRuns => hotRuns.filter((r) => popularityIds.includes(r.id));
    expect(
      await waitFor(
        async () => ran().length,
        (n) => n === 50,
      ),
    ).toBe(50);
    expect(new Set(ran().map((r) => r.id)).size).toBe(50);
    expect(ran().every((r) => r.inTransaction)).toBe(true);
    const pending = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM outbox WHERE status = 0');
    expect(Number(pending[0].n)).toBe(0);
  });

  it('an effect that hands over: the event is acked in its lane, counted once, and its effect retried alone in hot.worker until it runs', async () => {
    const metrics = worker!.app.get(ConsumerMetrics);
    const dlq = deadLetterQueueName(CONSUMER_QUEUES.popularity.name);
    const deadBefore = await queueDepth(dlq);
    handOff.on = true;
    try {
      const e = makeEvent('video.popularity.update', { video_id: HANDOFF_VIDEO, delta: 1, reason: 'like' });
      await bus.transaction(async (_m, emit) => emit(e));
      // The column's write is committed once; the effect waits in hot.worker's retries.
      expect(
        await waitFor(
          async () => metrics.count(CONSUMER_QUEUES.hot.name, 'waited'),
          (n) => n >= 1,
        ),
      ).toBeGreaterThanOrEqual(1);
      expect(metrics.count(CONSUMER_QUEUES.popularity.name, 'handed_off')).toBeGreaterThanOrEqual(1);
      expect(metrics.count(CONSUMER_QUEUES.popularity.name, 'waited')).toBe(0);
      expect(await count('video.popularity.update', HANDOFF_VIDEO)).toBe(1);
      expect(hotRuns.some((r) => r.id === e.payload.event_id)).toBe(false);
      handOff.on = false;
      // Back: hot.worker runs the effect alone, outside any transaction; nothing is applied twice.
      const ran = await waitFor(
        async () => hotRuns.filter((r) => r.id === e.payload.event_id),
        (r) => r.length > 0,
      );
      expect(ran).toEqual([{ id: e.payload.event_id, inTransaction: false }]);
      expect(await count('video.popularity.update', HANDOFF_VIDEO)).toBe(1);
      expect(await queueDepth(dlq)).toBe(deadBefore);
    } finally {
      handOff.on = false;
    }
  });

  it('a duplicated or redelivered message is applied once', async () => {
    const e = makeEvent('comment.publish', { account_id: 1, video_id: 3, comment_id: 10 });
    const body = Buffer.from(JSON.stringify(e.payload));
    for (let i = 0; i < 3; i++) {
      raw.publish('comment.events', 'comment.publish', body, {
        messageId: e.payload.event_id,
        persistent: true,
      });
    }
    await raw.waitForConfirms();
    expect(
      await waitFor(
        () => count('comment.publish', 3),
        (n) => n >= 1,
      ),
    ).toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(await count('comment.publish', 3)).toBe(1);
    const rows = await db.query<{ n: number }>(
      'SELECT COUNT(*) AS n FROM processed_events WHERE event_id = ?',
      [e.payload.event_id],
    );
    expect(Number(rows[0].n)).toBe(1);
  });

  it('a batch mixing applied and new events takes two transactions, not one per event; each counts once, every effect runs', async () => {
    const applier = producer.get(EventApplier);
    const like = (i: number): DomainEvent => makeEvent('like.like', { account_id: i, video_id: 4100 + i });
    const applied = [1, 2, 3].map(like);
    await applier.applyDirectly(applied);
    const fresh = [4, 5, 6, 7].map(like);
    const mixed = [applied[0], fresh[0], applied[1], fresh[1], fresh[2], applied[2], fresh[3]];
    const ids = mixed.map((e) => e.payload.event_id).sort();

    const transactions = jest.spyOn(db, 'transaction');
    try {
      effectsRun.length = 0;
      expect(await applier.applyConsumerBatch(mixed)).toEqual(mixed.map(() => null));
      // The whole batch's attempt, rolled back, then the split one.
      expect(transactions).toHaveBeenCalledTimes(2);
      expect([...effectsRun].sort()).toEqual(ids);

      // All of them applied before now: one transaction, writes discarded, effects run.
      transactions.mockClear();
      effectsRun.length = 0;
      expect(await applier.applyConsumerBatch(mixed)).toEqual(mixed.map(() => null));
      expect(transactions).toHaveBeenCalledTimes(1);
      expect([...effectsRun].sort()).toEqual(ids);
    } finally {
      transactions.mockRestore();
    }
    for (const i of [1, 2, 3, 4, 5, 6, 7]) expect(await count('like.like', 4100 + i)).toBe(1);
  });

  it('an effects-only batch whose handler defers a database write is refused, and writes nothing', async () => {
    const applier = producer.get(EventApplier);
    const e = makeEvent('video.popularity.update', { video_id: 4300, delta: 1, reason: 'like' });
    // The direct invoker runs every handler of the key, the counting one (which defers a write) too.
    const [err] = await applier.applyEffectsOnly([e]);
    expect(err?.message).toMatch(/deferred a database write in an effects-only queue/);
    expect(await count('video.popularity.update', 4300)).toBe(0);
  });

  it('a batch with one event twice counts it once', async () => {
    const applier = producer.get(EventApplier);
    const e = makeEvent('like.like', { account_id: 1, video_id: 4200 });
    const other = makeEvent('like.like', { account_id: 2, video_id: 4201 });
    expect(await applier.applyConsumerBatch([e, other, e])).toEqual([null, null, null]);
    expect(await count('like.like', 4200)).toBe(1);
    expect(await count('like.like', 4201)).toBe(1);
  });

  it('a malformed message goes straight to the dead-letter queue', async () => {
    const dlq = deadLetterQueueName(CONSUMER_QUEUES.like.name);
    const before = await queueDepth(dlq);
    raw.publish('like.events', 'like.like', Buffer.from('not json'), { persistent: true });
    raw.publish('like.events', 'like.like', Buffer.from(JSON.stringify({ video_id: 5 })), {
      persistent: true,
    });
    await raw.waitForConfirms();
    expect(
      await waitFor(
        () => queueDepth(dlq),
        (n) => n === before + 2,
      ),
    ).toBe(before + 2);
    expect(worker!.app.get(ConsumerMetrics).count(CONSUMER_QUEUES.like.name, 'dead_lettered')).toBe(2);
    const msg = await raw.get(dlq, { noAck: true });
    expect(msg && (msg.properties.headers as Record<string, unknown>)['x-error']).toMatch(/not JSON/);
  });

  it('a message that keeps failing is retried with backoff, then dead-lettered (no hot loop)', async () => {
    const dlq = deadLetterQueueName(CONSUMER_QUEUES.social.name);
    const before = await queueDepth(dlq);
    poisonCalls.length = 0;
    const e = makeEvent('social.follow', { follower_id: 1, vlogger_id: POISON_VIDEO });
    raw.publish('social.events', 'social.follow', Buffer.from(JSON.stringify(e.payload)), {
      messageId: e.payload.event_id,
      persistent: true,
    });
    await raw.waitForConfirms();
    expect(
      await waitFor(
        () => queueDepth(dlq),
        (n) => n === before + 1,
        20000,
      ),
    ).toBe(before + 1);
    // MAX_DELIVERIES=3: three attempts, 1 s then 2 s apart.
    expect(poisonCalls).toHaveLength(3);
    expect(poisonCalls[1] - poisonCalls[0]).toBeGreaterThanOrEqual(900);
    expect(poisonCalls[2] - poisonCalls[1]).toBeGreaterThanOrEqual(1800);
    await new Promise((r) => setTimeout(r, 1500));
    expect(poisonCalls).toHaveLength(3);
  });

  it('an unroutable publish is not confirmed', async () => {
    const publisher = producer.get<EventPublisher, AmqpPublisher>(EventPublisher);
    const ok = await publisher.publishRaw('like.events', 'like.nobody', Buffer.from('{}'), 'x-1');
    expect(ok).toBe(false);
    const e = makeEvent('like.like', { account_id: 1, video_id: 9 });
    expect(await publisher.publish(e)).toBe(true);
  });

  it("one tick's publishes leave in one write to the socket (corked until amqplib's mux has written)", async () => {
    const publisher = producer.get<EventPublisher, AmqpPublisher>(EventPublisher);
    const socket = (publisher as unknown as { socket: Writable | null }).socket as Writable & {
      _writeGeneric: (...a: unknown[]) => unknown;
      _writev: (...a: unknown[]) => unknown;
    };
    expect(socket).toBeInstanceOf(Writable);
    const single = jest.spyOn(socket, '_writeGeneric');
    const vector = jest.spyOn(socket, '_writev');
    try {
      // Routed nowhere (returned, so not applied): only the writes are looked at.
      const sent = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          publisher.publishRaw('like.events', 'like.nobody', Buffer.from('{}'), `tick-${i}`),
        ),
      );
      expect(sent).toEqual(Array.from({ length: 40 }, () => false));
      expect(vector).toHaveBeenCalledTimes(1);
      expect(single.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      single.mockRestore();
      vector.mockRestore();
    }
  });

  it('the outbox relay publishes a row an api left Pending', async () => {
    const e = makeEvent('like.unlike', { account_id: 1, video_id: 7 });
    const old = Date.now() - 60_000;
    await db.query(
      'INSERT INTO outbox (event_id, exchange, routing_key, payload, status, attempts, create_time, update_time) VALUES (?, ?, ?, ?, 0, 0, ?, ?)',
      [e.payload.event_id, 'like.events', 'like.unlike', JSON.stringify(e.payload), old, old],
    );
    expect(
      await waitFor(
        () => count('like.unlike', 7),
        (n) => n === 1,
        10000,
      ),
    ).toBe(1);
    expect(
      await waitFor(
        () => outboxStatus(e.payload.event_id),
        (s) => s === OutboxStatus.Sent,
      ),
    ).toBe(OutboxStatus.Sent);
  });

  it('with the broker unreachable a write is applied directly (降级直写), quickly, and marked Applied', async () => {
    const proxy = new TcpProxy('127.0.0.1', Number(new URL(AMQP_BASE).port || 5672));
    await proxy.start();
    const u = new URL(AMQP_BASE);
    const down = await startProducer({
      ...env.env,
      AMQP_URL: `amqp://${u.username}:${u.password}@127.0.0.1:${proxy.port}/${env.vhost}`,
    });
    try {
      const downBus = down.get(EventBus);
      expect(down.get(EventPublisher).state()).toBe('up');
      proxy.cut();
      await waitFor(
        async () => down.get(EventPublisher).state(),
        (s) => s === 'down',
        5000,
      );
      // Quickly: each publish answers "not confirmed" at once (before this process's next I/O or
      // timer), not at the confirm timeout, and the write takes no more than its own SQL.
      const publisher = down.get(EventPublisher);
      const publishOf = publisher.publish.bind(publisher);
      const waited: boolean[] = [];
      const publish = jest.spyOn(publisher, 'publish').mockImplementation((event) => {
        const confirmed = publishOf(event);
        void Promise.race([
          confirmed.then(() => false),
          new Promise<boolean>((r) => setImmediate(() => r(true))),
        ]).then((w) => waited.push(w));
        return confirmed;
      });
      const started = Date.now();
      const events = await downBus.transaction(async (_m, emit) => {
        const list = [
          makeEvent('like.like', { account_id: 2, video_id: 8 }),
          makeEvent('video.popularity.update', { video_id: 8, delta: 1, reason: 'like' }),
        ];
        list.forEach(emit);
        return list;
      });
      // Headroom for a loaded host; a write that waited for a confirm would still answer in time,
      // which `waited` tells.
      expect(Date.now() - started).toBeLessThan(5000);
      publish.mockRestore();
      expect(waited).toEqual([false, false]);
      expect(await count('like.like', 8)).toBe(1);
      expect(await count('video.popularity.update', 8)).toBe(1);
      for (const e of events) {
        expect(
          await waitFor(
            () => outboxStatus(e.payload.event_id),
            (s) => s === OutboxStatus.Applied,
            3000,
          ),
        ).toBe(OutboxStatus.Applied);
      }
      // Back up: the publisher reconnects by itself.
      proxy.restore();
      expect(
        await waitFor(
          async () => down.get(EventPublisher).state(),
          (s) => s === 'up',
          10000,
        ),
      ).toBe('up');
    } finally {
      await down.close();
      await proxy.stop();
    }
  });

  it('the relay applies Pending rows directly when there is no broker', async () => {
    const e = makeEvent('social.unfollow', { follower_id: 3, vlogger_id: 4 });
    const offline = await startWorker(env, {
      domainModules: [CountingHandlersModule],
      env: { AMQP_URL: '' },
      migrate: false,
    });
    try {
      // Recent, and run at once: the running worker's relay (3 s staleness) leaves it to this one
      // (the row is written only once the offline worker is up: its boot takes no part of those 3 s).
      const old = Date.now() - 100;
      await db.query(
        'INSERT INTO outbox (event_id, exchange, routing_key, payload, status, attempts, create_time, update_time) VALUES (?, ?, ?, ?, 0, 0, ?, ?)',
        [e.payload.event_id, 'social.events', 'social.unfollow', JSON.stringify(e.payload), old, old],
      );
      const run = await offline.relay.runOnce(0);
      expect(run.applied).toBeGreaterThanOrEqual(1);
      expect(await count('social.unfollow', 4)).toBe(1);
      expect(await outboxStatus(e.payload.event_id)).toBe(OutboxStatus.Applied);
    } finally {
      await offline.close();
    }
  });

  it('a dead-lettered valid event is replayed by dlq:replay once its cause is fixed, and applied exactly once', async () => {
    const dlq = deadLetterQueueName(CONSUMER_QUEUES.social.name);
    const url = `${AMQP_BASE}/${env.vhost}`;
    expect(await queueDepth(dlq)).toBeGreaterThanOrEqual(1); // the poison follow of the test above
    expect(await count('social.follow', POISON_VIDEO)).toBe(0);
    const dry = await replayDeadLetters(url, { queues: [CONSUMER_QUEUES.social.name], dryRun: true });
    expect(dry[0].moved).toBe(await queueDepth(dlq));
    expect(dry[0].byRoutingKey['social.follow']).toBeGreaterThanOrEqual(1);
    expect(Object.keys(dry[0].reasons).join()).toMatch(/failed 3 times, last: poison/);
    expect(await count('social.follow', POISON_VIDEO)).toBe(0); // a dry run moves nothing
    poisonCalls.length = 1000; // "the bug is fixed": the handler stops failing
    const done = await replayDeadLetters(url, { queues: [CONSUMER_QUEUES.social.name] });
    expect(done[0].moved).toBe(dry[0].moved);
    expect(
      await waitFor(
        () => count('social.follow', POISON_VIDEO),
        (n) => n === 1,
      ),
    ).toBe(1);
    expect(await queueDepth(dlq)).toBe(0);
    // Replaying the same event again (e.g. an operator runs it twice) changes nothing.
    const e = makeEvent('social.follow', { follower_id: 1, vlogger_id: POISON_VIDEO });
    const [first] = await db.query<{ event_id: string }>(
      "SELECT event_id FROM processed_events WHERE routing_key = 'social.follow' ORDER BY processed_at DESC LIMIT 1",
    );
    raw.publish(
      '',
      CONSUMER_QUEUES.social.name,
      Buffer.from(JSON.stringify({ ...e.payload, event_id: first.event_id })),
      {
        type: 'social.follow',
        persistent: true,
      },
    );
    await raw.waitForConfirms();
    await new Promise((r) => setTimeout(r, 500));
    expect(await count('social.follow', POISON_VIDEO)).toBe(1);
  });

  it('a dependency outage (Redis) makes a message wait, uncounted: never dead-lettered, applied once when it is back', async () => {
    const dlq = deadLetterQueueName(CONSUMER_QUEUES.like.name);
    const before = await queueDepth(dlq);
    unavailable.on = true;
    unavailable.calls = 0;
    const e = makeEvent('like.like', { account_id: 5, video_id: UNAVAILABLE_VIDEO });
    raw.publish('like.events', 'like.like', Buffer.from(JSON.stringify(e.payload)), {
      messageId: e.payload.event_id,
      type: 'like.like',
      persistent: true,
    });
    await raw.waitForConfirms();
    // MAX_DELIVERIES=3: a failure of the message itself would be dead-lettered after 3 attempts.
    await waitFor(
      async () => unavailable.calls,
      (n) => n >= 4,
      20000,
    );
    expect(unavailable.calls).toBeGreaterThanOrEqual(4);
    expect(await queueDepth(dlq)).toBe(before);
    expect(
      worker!.app.get(ConsumerMetrics).count(CONSUMER_QUEUES.like.name, 'waited'),
    ).toBeGreaterThanOrEqual(4);
    unavailable.on = false;
    expect(
      await waitFor(
        () => count('like.like', UNAVAILABLE_VIDEO),
        (n) => n === 1,
        20000,
      ),
    ).toBe(1);
    expect(await queueDepth(dlq)).toBe(before);
  });

  it('an unreachable database pauses consumption (nothing dead-lettered), and it resumes by itself', async () => {
    const admin = new URL(env.env.DATABASE_URL);
    const proxy = new TcpProxy(admin.hostname, Number(admin.port || 3306));
    await proxy.start();
    const viaProxy = new URL(env.env.DATABASE_URL);
    viaProxy.port = String(proxy.port);
    await worker?.close();
    worker = await startWorker(env, {
      domainModules: [CountingHandlersModule],
      migrate: false,
      env: { DATABASE_URL: viaProxy.toString(), DB_STATEMENT_TIMEOUT_MS: '1000' },
    });
    const dlqsBefore = await Promise.all(
      Object.values(CONSUMER_QUEUES).map((q) => queueDepth(deadLetterQueueName(q.name))),
    );
    try {
      proxy.partition();
      // Published while the worker's database is away (the producer writes directly).
      const events = await Promise.all(Array.from({ length: 5 }, () => emitLike(31)));
      await waitFor(
        async () => worker!.transport.isPaused,
        (p) => p,
        10000,
      );
      expect(worker.transport.isPaused).toBe(true);
      // Longer than the whole retry budget (MAX_DELIVERIES=3: 1 s + 2 s).
      await new Promise((r) => setTimeout(r, 6000));
      expect(await count('like.like', 31)).toBe(0);
      const dlqs = await Promise.all(
        Object.values(CONSUMER_QUEUES).map((q) => queueDepth(deadLetterQueueName(q.name))),
      );
      expect(dlqs).toEqual(dlqsBefore);
      expect(worker.app.get(ConsumerMetrics).total('dead_lettered')).toBe(0);
      proxy.heal();
      expect(
        await waitFor(
          () => count('like.like', 31),
          (n) => n === 5,
          20000,
        ),
      ).toBe(5);
      // Its own queue and consumer: applied shortly after the likes, not with them.
      expect(
        await waitFor(
          () => count('video.popularity.update', 31),
          (n) => n === 5,
          20000,
        ),
      ).toBe(5);
      expect(worker.transport.isPaused).toBe(false);
      expect(events.flat()).toHaveLength(10);
    } finally {
      proxy.heal();
      await worker?.close();
      worker = undefined;
      await proxy.stop();
    }
  });
});
