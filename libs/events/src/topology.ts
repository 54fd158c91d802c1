import type { Channel } from 'amqplib';
import { EXCHANGE_OF, Exchange, type RoutingKey } from './events';

/** One consumer's durable work queue and the routing keys bound to it. */
export interface ConsumerQueue {
  /** Work queue name; its retry queues are `<name>.retry.<ms>`, its dead-letter queue `<name>.dlq`. */
  name: string;
  routingKeys: readonly RoutingKey[];
  /**
   * Its handlers only add after-commit effects that dedupe themselves (by `event_id`, in Redis):
   * the worker runs them with no transaction and no `processed_events` row, since the events'
   * database writes are applied, and recorded, through the routing key's first queue.
   */
  effectsOnly?: boolean;
  /**
   * Bound to no exchange: its messages are events another queue's lane handed over
   * ({@link HandOff}) because one of their after-commit effects could not run (its dependency down).
   */
  handOffOnly?: boolean;
}

/**
 * A routing key's handlers run in the worker from its first queue below, unless a handler names
 * others with {@link onQueue}. `popularity.worker` applies `video.popularity.update` whole: the
 * `videos.popularity` column and, after commit, the hot buckets in Redis. While Redis is down the
 * buckets' effect fails and its events are handed over to `hot.worker` (bound to no exchange), which
 * retries the buckets alone until Redis is back: the column is not held back, and in normal times
 * an event is one message.
 */
export const CONSUMER_QUEUES = {
  like: { name: 'like.worker', routingKeys: ['like.like', 'like.unlike'] },
  comment: { name: 'comment.worker', routingKeys: ['comment.publish', 'comment.delete'] },
  social: { name: 'social.worker', routingKeys: ['social.follow', 'social.unfollow'] },
  popularity: { name: 'popularity.worker', routingKeys: ['video.popularity.update'] },
  hot: { name: 'hot.worker', routingKeys: ['video.popularity.update'], effectsOnly: true, handOffOnly: true },
  video: { name: 'video.worker', routingKeys: ['video.publish'] },
} as const satisfies Record<string, ConsumerQueue>;

export const ALL_CONSUMER_QUEUES: readonly ConsumerQueue[] = Object.values(CONSUMER_QUEUES);

/** The `@EventPattern` extra naming the queue whose worker lane runs that handler. */
export const QUEUE_EXTRA = 'queue';

/** `@EventPattern(key, onQueue(CONSUMER_QUEUES.a, …))`: the handler runs in the worker from those queues. */
export function onQueue(...queues: ConsumerQueue[]): Record<string, string[]> {
  return { [QUEUE_EXTRA]: queues.map((q) => q.name) };
}

/** The queues whose lanes run a handler of `key` with these `@EventPattern` extras. */
export function handlerQueues(key: RoutingKey, extras: Record<string, unknown> | undefined): string[] {
  const named = extras?.[QUEUE_EXTRA];
  if (Array.isArray(named) && named.every((n): n is string => typeof n === 'string')) return named;
  const first = ALL_CONSUMER_QUEUES.find((q) => q.routingKeys.includes(key));
  if (!first) throw new Error(`routing key ${key} is bound to no queue`);
  return [first.name];
}

/** The queues an exchange delivers `key` to (a handed-over-only queue is not among them). */
export function boundQueues(key: RoutingKey): ConsumerQueue[] {
  return ALL_CONSUMER_QUEUES.filter((q) => !q.handOffOnly && q.routingKeys.includes(key));
}

/** Direct exchange every work queue dead-letters into (routing key = the work queue's name). */
export const DEAD_LETTER_EXCHANGE = 'events.dlx';

/**
 * Retry back-off steps. Each step is its own delay queue with a queue-level TTL (per-message TTLs
 * only expire at the head of a queue, so mixing delays in one queue would hold short ones back);
 * on expiry a message dead-letters through the default exchange back into its work queue.
 */
export const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 16000, 30000] as const;

/** Delay before the next delivery after `failures` failed attempts (1-based). */
export function retryDelayMs(failures: number): number {
  const i = Math.min(Math.max(failures, 1), RETRY_DELAYS_MS.length) - 1;
  return RETRY_DELAYS_MS[i];
}

export const retryQueueName = (queue: string, delayMs: number): string => `${queue}.retry.${delayMs}`;
export const deadLetterQueueName = (queue: string): string => `${queue}.dlq`;

/** Most messages one queue's batch applies in one transaction. */
export const CONSUMER_BATCH = 64;

/**
 * Message prefetch per consumer channel: two batches, so that while one batch commits the next is
 * already delivered and starts at once, instead of waiting for its acks to reach the broker and the
 * next deliveries to come back (`bench:likes`: drain +25 %, accepted likes +20 % against a
 * prefetch of one batch). Bounds in-flight work and memory per worker.
 */
export const CONSUMER_PREFETCH = 2 * CONSUMER_BATCH;

/** Headers the pipeline sets on messages it moves between queues. */
export const Headers = {
  /** Failed attempts so far (absent = 0); only failures of the message itself count. */
  failures: 'x-failures',
  /** Times it was put back because a dependency was unavailable (not counted against the budget). */
  waits: 'x-waits',
  /** Why a message was dead-lettered (operator's note). */
  error: 'x-error',
} as const;

export type QueueType = 'classic' | 'quorum';

export interface TopologyOptions {
  /**
   * `classic` (default) or `quorum` (replicated on a RabbitMQ cluster) for every work, retry and
   * dead-letter queue. A queue's type is fixed when it is first declared: switching an existing
   * deployment means draining and deleting its queues first (the broker refuses a redeclaration
   * with another type).
   */
  queueType?: QueueType;
}

/** Arguments every queue of the topology gets for its type. */
function typeArguments(type: QueueType): Record<string, unknown> {
  // Quorum: dead-letter at least once (a message is kept until the DLX target confirms it),
  // which RabbitMQ allows only with `reject-publish` overflow.
  return type === 'quorum'
    ? { 'x-queue-type': 'quorum', 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' }
    : {};
}

/**
 * Declares the whole topology (SPEC §4) idempotently: the five topic exchanges, one durable work
 * queue per consumer bound to its routing keys, its retry delay queues, and its dead-letter queue
 * behind {@link DEAD_LETTER_EXCHANGE}. The api and the worker both run this on every (re)connect,
 * so an event published before any worker ever ran waits in its queue.
 */
export async function declareTopology(ch: Channel, options: TopologyOptions = {}): Promise<void> {
  const type = options.queueType ?? 'classic';
  const args = typeArguments(type);
  for (const ex of Object.values(Exchange)) await ch.assertExchange(ex, 'topic', { durable: true });
  await ch.assertExchange(DEAD_LETTER_EXCHANGE, 'direct', { durable: true });
  for (const q of ALL_CONSUMER_QUEUES) {
    const dlq = deadLetterQueueName(q.name);
    await ch.assertQueue(dlq, {
      durable: true,
      arguments: type === 'quorum' ? { 'x-queue-type': 'quorum' } : {},
    });
    await ch.bindQueue(dlq, DEAD_LETTER_EXCHANGE, q.name);
    await ch.assertQueue(q.name, {
      durable: true,
      deadLetterExchange: DEAD_LETTER_EXCHANGE,
      deadLetterRoutingKey: q.name,
      arguments: args,
    });
    if (!q.handOffOnly) for (const key of q.routingKeys) await ch.bindQueue(q.name, EXCHANGE_OF[key], key);
    for (const delay of RETRY_DELAYS_MS) {
      await ch.assertQueue(retryQueueName(q.name, delay), {
        durable: true,
        messageTtl: delay,
        deadLetterExchange: '',
        deadLetterRoutingKey: q.name,
        arguments: args,
      });
    }
  }
}

/** Every routing key must reach a queue, or mandatory publishes of it would all come back. */
export function unboundRoutingKeys(keys: readonly RoutingKey[]): RoutingKey[] {
  const bound = new Set<RoutingKey>(
    ALL_CONSUMER_QUEUES.filter((q) => !q.handOffOnly).flatMap((q) => q.routingKeys),
  );
  return keys.filter((k) => !bound.has(k));
}
