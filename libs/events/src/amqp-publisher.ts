import { Writable } from 'node:stream';
import { Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ChannelModel, ConfirmChannel, Message } from 'amqplib';
import { connect, type AmqpConnectionManager, type ChannelWrapper } from 'amqp-connection-manager';
import type { DependencyState } from '@app/cache';
import { EventPublisher } from './event-publisher';
import { EXCHANGE_OF, type DomainEvent } from './events';
import { connectionOptions, reconnectIfOnlyTheChannelClosed, waitFor } from './amqp-options';
import { declareTopology, type TopologyOptions } from './topology';

/** How long a publish waits for the broker's confirm before it counts as failed. */
export const PUBLISH_CONFIRM_TIMEOUT_MS = 2000;
/** While confirms are timing out (a silent broker), one probe publish per this interval; the rest fail at once. */
const PROBE_INTERVAL_MS = 1000;
/** How long `/healthz`'s probe waits for the broker. */
const PROBE_WAIT_MS = 500;
/** How long a read of queue depths (`/healthz`'s dead letters, the metrics, the reconciler) waits for the broker. */
const QUEUE_DEPTHS_WAIT_MS = 1000;

/** `p`'s value, or undefined if it has not settled within `ms`. */
async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
/** How long the first start waits for the broker before serving without it. */
const FIRST_CONNECT_WAIT_MS = 3000;

/**
 * Publishes on a confirm channel managed by `amqp-connection-manager` (which reconnects and
 * re-runs `setup`: the topology, the `return` listener): `mandatory`, persistent,
 * `messageId = event_id`, `type` = the routing key. Resolves true only on the broker's ack of a
 * message that was routed; a return (unroutable), a nack, a channel or connection failure or the
 * timeout resolve false, and the caller applies the event directly (降级直写).
 *
 * Publishes go straight onto the raw channel captured in `setup`, never into the wrapper's
 * in-memory queue: while the broker is down a publish fails at once instead of waiting for a
 * reconnect, and while it is partitioned (socket open, nothing answering) one timed-out confirm
 * marks it suspect, so further publishes fail at once until a probe is confirmed again.
 */
export class AmqpPublisher extends EventPublisher implements OnModuleInit, OnApplicationShutdown {
  readonly enabled = true;
  private readonly logger = new Logger(AmqpPublisher.name);
  private readonly manager: AmqpConnectionManager;
  private readonly wrapper: ChannelWrapper;
  private channel: ConfirmChannel | null = null;
  /** The connection's socket, corked for the rest of the tick while publishes are queued. */
  private socket: Writable | null = null;
  private corked = false;
  /** message ids the broker returned as unroutable; their ack (which follows) is a failure. */
  private readonly returned = new Set<string>();
  /** Set when a confirm timed out: the broker may be partitioned. */
  private suspectSince = 0;
  private lastProbe = 0;
  /** The last `/healthz` round trip: when it started, and whether the broker answered. */
  private asked: { at: number; answered: Promise<boolean> } | undefined;

  constructor(
    url: string,
    private readonly timeoutMs = PUBLISH_CONFIRM_TIMEOUT_MS,
    topology: TopologyOptions = {},
  ) {
    super();
    this.manager = connect([url], connectionOptions());
    this.manager.on('disconnect', ({ err }) => {
      if (this.channel)
        this.logger.warn(`RabbitMQ connection lost (${err?.message ?? 'closed'}); reconnecting`);
      this.channel = null;
      this.socket = null;
    });
    this.manager.on('connectFailed', () => undefined);
    this.wrapper = this.manager.createChannel({
      confirm: true,
      json: false,
      setup: async (ch: ConfirmChannel) => {
        await declareTopology(ch, topology);
        ch.on('return', (msg: Message) => {
          const id = (msg.properties as { messageId?: string }).messageId;
          if (id) this.returned.add(id);
          this.logger.warn(`unroutable event returned by the broker: ${msg.fields.routingKey}`);
        });
        const conn = this.manager.connection;
        ch.on('close', () => {
          if (this.channel !== ch) return;
          this.channel = null;
          reconnectIfOnlyTheChannelClosed(this.manager, conn, () => this.channel === null);
        });
        // amqplib keeps the socket on `channel.connection.stream` (not in its types).
        const stream = (ch as unknown as { connection?: { stream?: unknown } }).connection?.stream;
        this.socket = stream instanceof Writable ? stream : null;
        this.channel = ch;
        this.suspectSince = 0;
      },
    });
    this.wrapper.on('error', (err: Error) =>
      this.logger.warn(`publish channel setup failed: ${err.message}`),
    );
  }

  async onModuleInit(): Promise<void> {
    await waitFor(() => this.channel !== null, FIRST_CONNECT_WAIT_MS);
    if (!this.channel)
      this.logger.warn('RabbitMQ is not reachable yet: writes apply their events directly meanwhile');
  }

  state(): DependencyState {
    return this.channel && this.manager.isConnected() && this.suspectSince === 0 ? 'up' : 'down';
  }

  /**
   * The broker asked (`/healthz`): a round trip on a short-lived channel of the managed connection
   * (at most one per {@link PROBE_INTERVAL_MS}, shared by the callers meanwhile, bounded by
   * {@link PROBE_WAIT_MS}). A broker that does not answer in time is `down` (a black-holed
   * connection still looks connected until its heartbeats fail); one that answers while
   * publishing is paused to probes (a confirm timed out) ends the pause, so the state is `up`
   * again without waiting for a write.
   */
  override async probe(): Promise<DependencyState> {
    const conn = this.manager.connection;
    if (!this.channel || !conn || !this.manager.isConnected()) return 'down';
    const now = Date.now();
    if (this.asked === undefined || now - this.asked.at >= PROBE_INTERVAL_MS)
      this.asked = { at: now, answered: this.roundTrip(conn, PROBE_WAIT_MS) };
    const answered = await this.asked.answered;
    if (!answered) return 'down';
    if (this.suspectSince !== 0) {
      this.logger.log('RabbitMQ answers again: publishing resumed');
      this.suspectSince = 0;
    }
    return this.state();
  }

  /** Whether the broker answers a `checkExchange` on a channel of its own within `waitMs`. */
  private async roundTrip(conn: ChannelModel, waitMs: number): Promise<boolean> {
    return (
      (await withDeadline(
        (async () => {
          const ch = await conn.createChannel();
          ch.on('error', () => undefined);
          try {
            await ch.checkExchange(EXCHANGE_OF['like.like']);
          } finally {
            await ch.close().catch(() => undefined);
          }
          return true;
        })().catch(() => false),
        waitMs,
      )) ?? false
    );
  }

  /**
   * Reads the depths on a short-lived channel of the managed connection (a missing queue closes
   * only that one), within `waitMs`: a broker that does not answer in time gives the depths read
   * so far, or null (a late channel is closed when it comes).
   */
  async queueDepths(
    queues: readonly string[],
    waitMs = QUEUE_DEPTHS_WAIT_MS,
  ): Promise<Map<string, number> | null> {
    const conn = this.manager.connection;
    if (!conn || !this.channel) return null;
    const depths = new Map<string, number>();
    const read = (async () => {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      try {
        for (const q of queues) depths.set(q, (await ch.checkQueue(q)).messageCount);
      } finally {
        await ch.close().catch(() => undefined);
      }
      return true;
    })().catch(() => false);
    const done = await withDeadline(read, waitMs);
    // Read on: a copy of what there was when the deadline came.
    return done === true || depths.size > 0 ? new Map(depths) : null;
  }

  publish(event: DomainEvent): Promise<boolean> {
    return this.publishRaw(
      EXCHANGE_OF[event.routingKey],
      event.routingKey,
      Buffer.from(JSON.stringify(event.payload)),
      event.payload.event_id,
    );
  }

  /** Same contract as {@link publish} for an already serialised payload (the outbox relay, replays). */
  publishRaw(exchange: string, routingKey: string, body: Buffer, messageId: string): Promise<boolean> {
    const ch = this.channel;
    if (!ch) return Promise.resolve(false);
    if (this.suspectSince > 0) {
      const now = Date.now();
      if (now - this.lastProbe < PROBE_INTERVAL_MS) return Promise.resolve(false);
      this.lastProbe = now;
    }
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const finish = (ok: boolean, timedOut = false): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const wasReturned = this.returned.delete(messageId);
        if (timedOut) {
          if (this.suspectSince === 0)
            this.logger.warn('RabbitMQ did not confirm in time: publishing paused to probes');
          this.suspectSince ||= Date.now();
        } else if (ok && this.suspectSince > 0) {
          this.logger.log('RabbitMQ confirms again');
          this.suspectSince = 0;
        }
        resolve(ok && !wasReturned);
      };
      const timer = setTimeout(() => finish(false, true), this.timeoutMs);
      try {
        this.corkForThisTick();
        ch.publish(
          exchange,
          routingKey,
          body,
          {
            mandatory: true,
            persistent: true,
            messageId,
            type: routingKey,
            contentType: 'application/json',
            timestamp: Math.floor(Date.now() / 1000),
          },
          (err: unknown) => finish(err === null || err === undefined),
        );
      } catch (err) {
        this.logger.warn(`publish failed: ${(err as Error).message}`);
        finish(false);
      }
    });
  }

  /**
   * Holds the socket's writes until the tick's publishes are all on it: a batch of writes (one
   * group commit's events) leaves in one `writev` instead of one syscall and one TCP segment per
   * message. amqplib's mux moves a channel's frames to the socket in a `setImmediate` it queues on
   * the channel stream's `readable` (a `nextTick` after the publish), so behind the first
   * `setImmediate` here: the socket is uncorked one `setImmediate` later, once the mux has written.
   */
  private corkForThisTick(): void {
    const socket = this.socket;
    if (!socket || this.corked) return;
    this.corked = true;
    socket.cork();
    setImmediate(() =>
      setImmediate(() => {
        this.corked = false;
        socket.uncork();
      }),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.channel = null;
    await this.wrapper.close().catch(() => undefined);
    await this.manager.close().catch(() => undefined);
  }
}
