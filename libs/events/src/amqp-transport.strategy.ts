import { Logger } from '@nestjs/common';
import { CustomTransportStrategy, Server, type MessageHandler } from '@nestjs/microservices';
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { connect, type AmqpConnectionManager, type ChannelWrapper } from 'amqp-connection-manager';
import { isObservable, lastValueFrom } from 'rxjs';
import { Database, DependencyUnavailableError, isConnectionError, isLockContention } from '@app/core';
import { AckBatcher } from './ack-batcher';
import { HandOff } from './apply-context';
import { connectionOptions, reconnectIfOnlyTheChannelClosed, waitFor } from './amqp-options';
import { ConsumerMetrics } from './consumer-metrics';
import type { EventApplier, HandlerInvoker } from './event-applier.service';
import { MissingHandlersError } from './event-handlers';
import { parseEvent } from './event-validation';
import { ROUTING_KEYS, type DomainEvent, type RoutingKey } from './events';
import {
  ALL_CONSUMER_QUEUES,
  CONSUMER_BATCH,
  CONSUMER_PREFETCH,
  DEAD_LETTER_EXCHANGE,
  declareTopology,
  handlerQueues,
  Headers,
  retryDelayMs,
  retryQueueName,
  unboundRoutingKeys,
  type ConsumerQueue,
  type TopologyOptions,
} from './topology';

/** Identifies this transport to Nest (handlers bound to another transport are skipped). */
export const AMQP_EVENTS_TRANSPORT = Symbol('amqp-events');

const REPUBLISH_TIMEOUT_MS = 5000;
const FIRST_CONNECT_WAIT_MS = 3000;

export interface AmqpTransportOptions extends TopologyOptions {
  /** `AMQP_URL`; null = no broker: `listen` succeeds and consumes nothing (the api applies events). */
  url: string | null;
  /** Consumer retry budget for failures of the message itself (`MAX_DELIVERIES`). */
  maxDeliveries: number;
  queues?: readonly ConsumerQueue[];
  prefetch?: number;
}

/** What the transport needs from the application, handed over by the worker module before `listen`. */
export interface TransportDependencies {
  applier: EventApplier;
  database: Database;
  metrics: ConsumerMetrics;
}

/**
 * A queue's own confirm channel and consumer. Delivery tags, and so multiple acks, are per channel:
 * with each queue on its own, one queue's batch in flight never holds back the acks of another's
 * (on a shared channel the done messages above it had to be acked one frame each).
 */
interface Lane {
  queue: ConsumerQueue;
  wrapper: ChannelWrapper | null;
  /** The live channel and the acks of the deliveries made on it (one batcher per channel). */
  live: { ch: ConfirmChannel; acks: AckBatcher } | null;
  consumerTag: string | null;
  /** A `basic.consume` is on its way (setup and a resume after a database outage may both start one). */
  starting: boolean;
}

interface Delivery {
  msg: ConsumeMessage;
  ch: ConfirmChannel;
  acks: AckBatcher;
  queue: ConsumerQueue;
  event: DomainEvent;
}

/**
 * The worker's RabbitMQ transport for `@nestjs/microservices`: `NestFactory.createMicroservice(
 * WorkerModule, { strategy })`. Nest registers every `@EventPattern(routingKey)` handler with it;
 * `listen` refuses to start while a routing key of SPEC §4 has none. On `amqp-connection-manager`:
 * one confirm channel per queue ({@link Lane}) whose `setup` (re-run on every reconnect) declares
 * the topology, sets the prefetch and starts the queue's consumer.
 *
 * Each delivery is parsed and validated (a malformed one goes straight to its `.dlq`), then joins
 * its queue's micro-batch: the messages that arrived in the same tick are applied in ONE database
 * transaction by {@link EventApplier.applyConsumerBatch}, which calls the handlers through Nest's
 * pipeline and dedupes by `event_id`. Acks go through the raw channel the message came on, batched
 * ({@link AckBatcher}); nothing is acked before it is applied. A failure is classified:
 * - the database unreachable (refused, lost, timed out): consumption pauses — consumers are
 *   cancelled, the batch's messages requeued uncounted — until a probe with backoff gets an answer;
 * - lock contention, or Redis/the broker unavailable for an after-commit step: the message waits
 *   in a retry queue and comes back, never counted against `maxDeliveries`;
 * - anything else (a handler bug, a constraint that will never pass) walks the retry ladder and
 *   is dead-lettered after `maxDeliveries` attempts.
 * `close()` (SIGTERM) stops consuming, lets the batches in flight finish and settles their acks.
 */
export class AmqpTransportStrategy extends Server implements CustomTransportStrategy {
  override transportId = AMQP_EVENTS_TRANSPORT;
  protected override readonly logger = new Logger('AmqpTransport');
  private readonly queues: readonly ConsumerQueue[];
  private readonly prefetch: number;
  private deps: TransportDependencies | null = null;
  private manager: AmqpConnectionManager | null = null;
  /** One channel per queue (see {@link Lane}), in the order of {@link queues}. */
  private lanes: Lane[] = [];
  private readonly pending = new Map<string, Delivery[]>();
  /**
   * Every `@EventPattern` handler of each queue and routing key (`<queue> <key>`), in registration
   * order (see {@link addHandler}).
   */
  private readonly handlerLists = new Map<string, MessageHandler[]>();
  /** Each queue's {@link HandlerInvoker}, made once. */
  private readonly invokers = new Map<string, HandlerInvoker>();
  private readonly flushing = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private paused = false;
  private closing = false;

  constructor(private readonly options: AmqpTransportOptions) {
    super();
    this.queues = options.queues ?? ALL_CONSUMER_QUEUES;
    this.prefetch = options.prefetch ?? CONSUMER_PREFETCH;
  }

  bind(deps: TransportDependencies): void {
    this.deps = deps;
  }

  get isConsuming(): boolean {
    return this.lanes.some((l) => l.consumerTag !== null);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  listen(callback: (err?: unknown) => void): void {
    this.start().then(
      () => callback(),
      (err: unknown) => callback(err),
    );
  }

  private async start(): Promise<void> {
    if (!this.deps) throw new Error('AmqpTransportStrategy.bind() must run before listen()');
    const missing = [
      ...ROUTING_KEYS.filter((k) => !this.messageHandlers.has(k)),
      // A queue of this worker's with a routing key nobody here handles would ack its messages unapplied.
      ...this.queues.flatMap((q) =>
        q.routingKeys
          .filter((k) => this.messageHandlers.has(k) && !this.handlerLists.has(listKey(q.name, k)))
          .map((k) => `${k} (${q.name})`),
      ),
    ];
    const unbound = unboundRoutingKeys(ROUTING_KEYS);
    if (missing.length + unbound.length > 0) throw new MissingHandlersError([...missing, ...unbound]);
    if (!this.options.url) {
      this.logger.log('AMQP_URL is not set: derived state is applied by the api; nothing to consume');
      return;
    }
    this.manager = connect([this.options.url], connectionOptions());
    this.manager.on('connectFailed', () => undefined);
    this.manager.on('disconnect', ({ err }) => {
      if (this.closing) return;
      this._status$.next('disconnected');
      this.logger.warn(`RabbitMQ connection lost (${err?.message ?? 'closed'}); reconnecting`);
    });
    this.lanes = this.queues.map((queue) => {
      const lane: Lane = { queue, wrapper: null, live: null, consumerTag: null, starting: false };
      lane.wrapper = this.manager!.createChannel({
        confirm: true,
        json: false,
        setup: (ch: ConfirmChannel) => this.setup(lane, ch),
      });
      lane.wrapper.on('error', (err: Error) =>
        this.logger.warn(`${queue.name}: consumer channel setup failed: ${err.message}`),
      );
      return lane;
    });
    await waitFor(() => this.lanes.every((l) => l.live !== null), FIRST_CONNECT_WAIT_MS);
    this.logger.log(
      this.lanes.every((l) => l.live !== null)
        ? `consuming ${this.queues.map((q) => q.name).join(', ')}`
        : 'RabbitMQ is down: consuming as soon as it is back (the outbox relay applies meanwhile)',
    );
  }

  /** Runs on every (re)connect of a lane's channel, with the raw amqplib channel. */
  private async setup(lane: Lane, ch: ConfirmChannel): Promise<void> {
    // Every lane declares the whole topology (idempotent): none consumes before its queue exists.
    await declareTopology(ch, this.options);
    await ch.prefetch(this.prefetch);
    const manager = this.manager!;
    const conn = manager.connection;
    ch.on('close', () => {
      if (lane.live?.ch !== ch) return;
      lane.live = null;
      lane.consumerTag = null;
      reconnectIfOnlyTheChannelClosed(manager, conn, () => lane.live === null && !this.closing);
    });
    lane.live = { ch, acks: new AckBatcher(ch) };
    lane.consumerTag = null;
    if (this.lanes.every((l) => l.live !== null)) this._status$.next('connected');
    if (!this.paused && !this.closing) await this.consume(lane);
  }

  /** Starts the lane's consumer unless it has one (or one is being started). */
  private async consume(lane: Lane): Promise<void> {
    const live = lane.live;
    if (!live || lane.consumerTag !== null || lane.starting) return;
    const { ch, acks } = live;
    lane.starting = true;
    try {
      const { consumerTag } = await ch.consume(
        lane.queue.name,
        (msg) => this.onMessage(ch, acks, lane.queue, msg),
        { noAck: false },
      );
      // Paused or closing meanwhile: the cancel missed this consumer, so cancel it here.
      if (lane.live !== live || this.paused || this.closing)
        await ch.cancel(consumerTag).catch(() => undefined);
      else lane.consumerTag = consumerTag;
    } finally {
      lane.starting = false;
    }
    // A setup or resume that came while this start was on its way returned early: start again if wanted.
    if (lane.consumerTag === null && lane.live && !this.paused && !this.closing) await this.consume(lane);
  }

  private async cancelAll(): Promise<void> {
    await Promise.all(
      this.lanes.map(async (lane) => {
        const tag = lane.consumerTag;
        lane.consumerTag = null;
        if (tag !== null && lane.live) await lane.live.ch.cancel(tag).catch(() => undefined);
      }),
    );
  }

  private onMessage(
    ch: ConfirmChannel,
    acks: AckBatcher,
    queue: ConsumerQueue,
    msg: ConsumeMessage | null,
  ): void {
    if (!msg) return; // cancelled by the broker (queue deleted); the next setup consumes again
    acks.delivered(msg);
    const metrics = this.deps!.metrics;
    metrics.inc(queue.name, 'consumed');
    if (this.paused || this.closing) {
      // Delivered after we stopped consuming: back to the queue, uncounted.
      settleAlone(acks, msg, () => ch.nack(msg, false, true));
      return;
    }
    const routingKey = typeof msg.properties.type === 'string' ? msg.properties.type : msg.fields.routingKey;
    const parsed = parseEvent(routingKey, msg.content);
    if (!parsed.ok) {
      this.track(this.deadLetter({ msg, ch, acks, queue }, `malformed message: ${parsed.error}`));
      return;
    }
    if (!queue.routingKeys.includes(parsed.event.routingKey)) {
      this.track(
        this.deadLetter(
          { msg, ch, acks, queue },
          `routing key ${parsed.event.routingKey} does not belong here`,
        ),
      );
      return;
    }
    const batch = this.pending.get(queue.name) ?? [];
    batch.push({ msg, ch, acks, queue, event: parsed.event });
    this.pending.set(queue.name, batch);
    if (!this.flushing.has(queue.name)) {
      this.flushing.add(queue.name);
      setImmediate(() => this.track(this.flush(queue.name)));
    }
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err: unknown) =>
      this.logger.error(`unexpected consumer failure: ${(err as Error).message}`),
    );
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  /** One batch transaction in flight per queue; messages arriving meanwhile form the next batch. */
  private async flush(queueName: string): Promise<void> {
    try {
      for (;;) {
        const all = this.pending.get(queueName) ?? [];
        if (all.length === 0) return;
        const batch = all.splice(0, CONSUMER_BATCH);
        this.deps!.metrics.batch(batch.length);
        let results: (Error | null)[];
        const queue = batch[0].queue;
        const events = batch.map((d) => d.event);
        const invoke = this.invokerOf(queue.name);
        try {
          results = queue.effectsOnly
            ? await this.deps!.applier.applyEffectsOnly(events, invoke)
            : await this.deps!.applier.applyConsumerBatch(events, invoke);
        } catch (err) {
          results = batch.map(() => (err instanceof Error ? err : new Error(String(err))));
        }
        await Promise.all(batch.map((d, i) => this.settle(d, results[i] ?? null)));
      }
    } finally {
      this.flushing.delete(queueName);
    }
  }

  /**
   * Nest registers each `@EventPattern` method here (wrapped in its microservice pipeline: pipes,
   * guards, interceptors, filters). `Server` chains a routing key's further handlers behind the
   * first (`handler.next`), and Nest then runs the chain through an rxjs `forkJoin` per event
   * (~25 µs per event with two or three handlers, measured); the handlers of a routing key are
   * kept in a list per queue here instead (the queues its `@EventPattern` extras name, else the
   * key's first: {@link handlerQueues}) and run one after another by the queue's invoker.
   */
  override addHandler(
    pattern: unknown,
    callback: MessageHandler,
    isEventHandler = false,
    extras: Record<string, unknown> = {},
  ): void {
    const key = this.normalizePattern(pattern as string);
    if (!isEventHandler || !(ROUTING_KEYS as string[]).includes(key)) {
      super.addHandler(pattern, callback, isEventHandler, extras);
      return;
    }
    // The first handler of a key is Nest's (it answers `getHandlers()`); none is chained behind it.
    if (!this.messageHandlers.has(key)) super.addHandler(pattern, callback, isEventHandler, extras);
    callback.isEventHandler = true;
    callback.extras = extras;
    for (const queue of handlerQueues(key as RoutingKey, extras)) {
      const list = listKey(queue, key);
      this.handlerLists.set(list, [...(this.handlerLists.get(list) ?? []), callback]);
    }
  }

  /** The `@EventPattern` handlers of the event's routing key for `queue`, through Nest's microservice pipeline. */
  private invokerOf(queue: string): HandlerInvoker {
    let invoke = this.invokers.get(queue);
    if (invoke) return invoke;
    invoke = async (event, ctx) => {
      // Keyed by the routing key itself; `getHandlerByPattern` would first try to JSON.parse it
      // (a thrown error per event: ~14 µs, measured).
      const handlers = this.handlerLists.get(listKey(queue, event.routingKey));
      if (!handlers) throw new MissingHandlersError([event.routingKey]);
      for (const handler of handlers) {
        const result: unknown = await handler(event.payload, ctx);
        if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
      }
    };
    this.invokers.set(queue, invoke);
    return invoke;
  }

  private async settle(d: Delivery, err: Error | null): Promise<void> {
    const metrics = this.deps!.metrics;
    if (!err) {
      d.acks.ack(d.msg);
      metrics.inc(d.queue.name, 'applied');
      return;
    }
    if (isConnectionError(err)) {
      this.pauseUntilDatabaseAnswers(err);
      metrics.inc(d.queue.name, 'requeued');
      settleAlone(d.acks, d.msg, () => d.ch.nack(d.msg, false, true));
      return;
    }
    if (err instanceof HandOff && err.queue !== d.queue.name) {
      await this.handOff(d, err);
      return;
    }
    if (isLockContention(err) || err instanceof DependencyUnavailableError) {
      await this.waitAndRetry(d, err.message);
      return;
    }
    await this.retryOrDeadLetter(d, err.message);
  }

  /**
   * The database is unreachable: no message can be applied, and none is at fault. Stop taking
   * deliveries (cancel the consumers; unacked ones are requeued by the caller), probe the database
   * with backoff, and consume again once it answers.
   */
  private pauseUntilDatabaseAnswers(err: Error): void {
    if (this.paused || this.closing) return;
    this.paused = true;
    const metrics = this.deps!.metrics;
    metrics.paused = true;
    this.logger.warn(`database unreachable (${err.message}): consumption paused until it answers`);
    void this.cancelAll();
    void this.deps!.database.waitUntilReachable(() => this.closing).then(async (up) => {
      if (!up || this.closing) return;
      this.paused = false;
      metrics.paused = false;
      this.logger.log('database answers again: consuming');
      for (const lane of this.lanes) {
        await this.consume(lane).catch((e: unknown) =>
          this.logger.warn(
            `${lane.queue.name}: resuming consumption failed (the next reconnect retries): ${(e as Error).message}`,
          ),
        );
      }
    });
  }

  private headerCount(msg: ConsumeMessage, header: string): number {
    const headers = (msg.properties.headers ?? {}) as Record<string, unknown>;
    const n = Number(headers[header] ?? 0);
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  }

  /**
   * The event is applied but for one after-commit effect that waits on its dependency: a copy goes
   * to the queue whose lane runs that effect alone (confirmed), and this one is acked. Not confirmed:
   * it waits and comes back whole (its writes are deduped, its effects run again).
   */
  private async handOff(d: Delivery, err: HandOff): Promise<void> {
    // Its waits start over there: the wait the copy begins is that queue's own.
    if (!(await republish(d.ch, '', err.queue, d.msg, { [Headers.waits]: 0 }))) {
      await this.waitAndRetry(d, err.message);
      return;
    }
    this.deps!.metrics.inc(d.queue.name, 'handed_off');
    settleAlone(d.acks, d.msg, () => d.ch.ack(d.msg));
  }

  /** Not the message's fault: back through a delay queue, its failure count unchanged. */
  private async waitAndRetry(d: Delivery, error: string): Promise<void> {
    const waits = this.headerCount(d.msg, Headers.waits) + 1;
    const delay = retryDelayMs(waits);
    this.deps!.metrics.inc(d.queue.name, 'waited');
    if (waits === 1 || waits % 10 === 0) {
      this.logger.warn(
        `${d.queue.name}: a dependency is unavailable (${error}); retrying in ${delay} ms, uncounted`,
      );
    }
    await this.requeueVia(d, retryQueueName(d.queue.name, delay), { [Headers.waits]: waits }, delay);
  }

  private async retryOrDeadLetter(d: Delivery, error: string): Promise<void> {
    const failures = this.headerCount(d.msg, Headers.failures) + 1;
    if (failures >= this.options.maxDeliveries) {
      await this.deadLetter(d, `failed ${failures} times, last: ${error}`);
      return;
    }
    const delay = retryDelayMs(failures);
    this.deps!.metrics.inc(d.queue.name, 'retried');
    this.logger.warn(
      `${d.queue.name}: attempt ${failures}/${this.options.maxDeliveries} failed (${error}); retrying in ${delay} ms`,
    );
    await this.requeueVia(d, retryQueueName(d.queue.name, delay), { [Headers.failures]: failures }, delay);
  }

  /** Copies the message into a retry queue (confirmed), then acks the original. */
  private async requeueVia(
    d: Delivery,
    retryQueue: string,
    headers: Record<string, unknown>,
    delay: number,
  ): Promise<void> {
    const ok = await republish(d.ch, '', retryQueue, d.msg, headers);
    if (ok) settleAlone(d.acks, d.msg, () => d.ch.ack(d.msg));
    // Not confirmed: leave it unacked. If the channel died the broker redelivers it; if not,
    // requeue it after a pause (never at once: no hot loop).
    else setTimeout(() => settleAlone(d.acks, d.msg, () => d.ch.nack(d.msg, false, true)), delay);
  }

  private async deadLetter(d: Omit<Delivery, 'event'>, reason: string): Promise<void> {
    this.deps!.metrics.inc(d.queue.name, 'dead_lettered');
    this.logger.error(
      `${d.queue.name}: dead-lettered message ${d.msg.properties.messageId ?? '(no id)'}: ${reason}`,
    );
    const ok = await republish(d.ch, DEAD_LETTER_EXCHANGE, d.queue.name, d.msg, {
      [Headers.error]: reason.slice(0, 500),
    });
    // The queue's own dead-letter exchange is the fallback path to the same `.dlq`.
    settleAlone(d.acks, d.msg, () => (ok ? d.ch.ack(d.msg) : d.ch.nack(d.msg, false, false)));
  }

  /** Stops taking messages, lets the batches in flight finish (acked or left unacked), disconnects. */
  async close(): Promise<void> {
    this.closing = true;
    await this.cancelAll();
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    for (const lane of this.lanes) {
      lane.live?.acks.flush();
      lane.live = null;
    }
    const wrappers = this.lanes.flatMap((l) => (l.wrapper ? [l.wrapper] : []));
    await Promise.all(wrappers.map((w) => w.close().catch(() => undefined)));
    await this.manager?.close().catch(() => undefined);
  }

  /** Listens to the connection manager's events (`connect`, `disconnect`, `blocked`, …). */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- Nest's own signature
  on<EventKey extends string = string, EventCallback extends Function = Function>(
    event: EventKey,
    callback: EventCallback,
  ): void {
    this.manager?.on(event, callback as unknown as (...args: unknown[]) => void);
  }

  unwrap<T>(): T {
    return this.manager as T;
  }
}

/** Publishes a copy (same properties, extra headers) and waits for the confirm. */
function republish(
  ch: ConfirmChannel,
  exchange: string,
  routingKey: string,
  msg: ConsumeMessage,
  extraHeaders: Record<string, unknown>,
): Promise<boolean> {
  const p = msg.properties;
  const headers = { ...((p.headers ?? {}) as Record<string, unknown>), ...extraHeaders };
  delete headers['x-death'];
  const options: Options.Publish = {
    persistent: true,
    mandatory: false,
    messageId: p.messageId as string | undefined,
    type: (p.type as string | undefined) ?? msg.fields.routingKey,
    contentType: p.contentType as string | undefined,
    timestamp: p.timestamp as number | undefined,
    headers,
  };
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), REPUBLISH_TIMEOUT_MS);
    try {
      ch.publish(exchange, routingKey, msg.content, options, (err: unknown) => {
        clearTimeout(timer);
        resolve(err === null || err === undefined);
      });
    } catch {
      clearTimeout(timer);
      resolve(false);
    }
  });
}

/**
 * An ack/nack of one message outside the batched acks (taken out of them first, so no multiple
 * ack can cover it twice). On a channel that has since closed it throws; the broker redelivers.
 */
function settleAlone(acks: AckBatcher, msg: ConsumeMessage, fn: () => void): void {
  acks.settledAlone(msg);
  try {
    fn();
  } catch {
    /* channel closed */
  }
}

const listKey = (queue: string, key: string): string => `${queue} ${key}`;
