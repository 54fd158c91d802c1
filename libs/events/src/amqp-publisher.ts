import { Writable } from 'node:stream';
import { Logger } from '@nestjs/common';
import type { ChannelModel, ConfirmChannel, Message } from 'amqplib';
import type { DependencyState } from '@app/cache';
import type { AmqpConnection } from './amqp-connection';
import { EventPublisher } from './event-publisher';
import { EXCHANGE_OF, type DomainEvent } from './events';

/** How long a publish waits for the broker's confirm before it counts as failed. */
export const PUBLISH_CONFIRM_TIMEOUT_MS = 2000;

/**
 * Publishes on a confirm channel: `mandatory`, persistent, `messageId = event_id`, `type` = the
 * routing key. Resolves true only on the broker's ack of a message that was routed; a return
 * (unroutable), a nack, a channel or connection failure or the timeout resolve false. While the
 * connection is known to be down it answers false at once, so no request waits on a dead broker.
 */
export class AmqpPublisher extends EventPublisher {
  readonly enabled = true;
  private readonly logger = new Logger(AmqpPublisher.name);
  private channel: ConfirmChannel | null = null;
  /** The connection's socket, corked for the rest of the tick while publishes are queued. */
  private socket: Writable | null = null;
  private corked = false;
  /** message ids the broker returned as unroutable; their ack (which follows) is a failure. */
  private readonly returned = new Set<string>();

  constructor(
    private readonly connection: AmqpConnection,
    private readonly timeoutMs = PUBLISH_CONFIRM_TIMEOUT_MS,
  ) {
    super();
    connection.onConnect((conn) => this.open(conn));
    connection.onDisconnect(() => {
      this.channel = null;
    });
  }

  state(): DependencyState {
    return this.connection.isUp && this.channel ? 'up' : 'down';
  }

  private async open(conn: ChannelModel): Promise<void> {
    const ch = await conn.createConfirmChannel();
    ch.on('error', (err: Error) => this.logger.warn(`publish channel error: ${err.message}`));
    ch.on('return', (msg: Message) => {
      const id = (msg.properties as { messageId?: string }).messageId;
      if (id) this.returned.add(id);
      this.logger.warn(`unroutable event returned by the broker: ${msg.fields.routingKey}`);
    });
    ch.on('close', () => {
      if (this.channel !== ch) return;
      this.channel = null;
      // The connection may still be up (a channel-level error): reopen on it.
      const live = this.connection.current;
      if (live === conn) {
        setTimeout(() => {
          if (this.connection.current === conn && !this.channel) {
            this.open(conn).catch((err: unknown) =>
              this.logger.warn(`reopening the publish channel failed: ${(err as Error).message}`),
            );
          }
        }, 200);
      }
    });
    this.channel = ch;
    // amqplib keeps the socket on `connection.stream` (not in its types).
    const stream = (conn as unknown as { connection?: { stream?: unknown } }).connection?.stream;
    this.socket = stream instanceof Writable ? stream : null;
  }

  /**
   * Holds the socket's writes until the tick's publishes are all queued: a batch of writes (one
   * group commit's events) leaves in one `writev` instead of one syscall and one TCP segment per
   * message. amqplib moves frames to the socket on `nextTick`, before the `setImmediate` here.
   */
  private corkForThisTick(): void {
    const socket = this.socket;
    if (!socket || this.corked) return;
    this.corked = true;
    socket.cork();
    setImmediate(() => {
      this.corked = false;
      socket.uncork();
    });
  }

  publish(event: DomainEvent): Promise<boolean> {
    return this.publishRaw(
      EXCHANGE_OF[event.routingKey],
      event.routingKey,
      Buffer.from(JSON.stringify(event.payload)),
      event.payload.event_id,
    );
  }

  /** Same contract as {@link publish} for an already serialised payload (the outbox relay). */
  publishRaw(exchange: string, routingKey: string, body: Buffer, messageId: string): Promise<boolean> {
    const ch = this.channel;
    if (!ch) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const finish = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const wasReturned = this.returned.delete(messageId);
        resolve(ok && !wasReturned);
      };
      const timer = setTimeout(() => finish(false), this.timeoutMs);
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
}
