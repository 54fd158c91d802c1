import { Logger } from '@nestjs/common';
import type { ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type { AppConfig } from '@app/core';
import { AckBatcher } from './ack-batcher';
import type { AmqpConnection } from './amqp-connection';
import type { DeadLetterCounter } from './dead-letter.counter';
import type { EventApplier } from './event-applier.service';
import { parseEvent } from './event-validation';
import type { DomainEvent } from './events';
import {
  CONSUMER_PREFETCH,
  DEAD_LETTER_EXCHANGE,
  Headers,
  retryDelayMs,
  retryQueueName,
  type ConsumerQueue,
} from './topology';

const REPUBLISH_TIMEOUT_MS = 5000;

/**
 * One consumer queue: parse and validate each message, apply it through {@link EventApplier}
 * (which dedupes by `event_id`), ack on success (batched: see {@link AckBatcher}). A failure is re-queued through a delay queue
 * with exponential backoff, counting attempts in a header; after `maxDeliveries` attempts (and at
 * once for a message that does not parse) it goes to `<queue>.dlq`, logged and counted. Nothing is
 * acked before it is applied, so a crash only ever causes a redelivery, which dedupe absorbs.
 */
export abstract class EventConsumer {
  abstract readonly queue: ConsumerQueue;
  protected readonly logger: Logger;
  private channel: ConfirmChannel | null = null;
  private acks: AckBatcher | null = null;
  private consumerTag: string | null = null;
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxDeliveries: number;
  /** Parsed messages waiting for the next batch; one batch transaction in flight at a time. */
  private batch: { event: DomainEvent; done: (err: Error | null) => void }[] = [];
  private flushing = false;

  protected constructor(
    private readonly connection: AmqpConnection,
    private readonly applier: EventApplier,
    private readonly deadLetters: DeadLetterCounter,
    config: AppConfig,
  ) {
    this.logger = new Logger(this.constructor.name);
    this.maxDeliveries = config.maxDeliveries;
    connection.onConnect((conn) => (this.running ? this.open(conn) : Promise.resolve()));
    connection.onDisconnect(() => {
      this.channel = null;
      this.consumerTag = null;
    });
  }

  get isConsuming(): boolean {
    return this.consumerTag !== null;
  }

  /** Starts consuming now if connected, and again after every reconnect. */
  async start(): Promise<void> {
    this.running = true;
    const conn = this.connection.current;
    if (conn && !this.channel) await this.open(conn);
  }

  /** Stops taking messages, waits for the ones in flight (each acked or left unacked), closes. */
  async stop(): Promise<void> {
    this.running = false;
    const ch = this.channel;
    if (ch && this.consumerTag) await ch.cancel(this.consumerTag).catch(() => undefined);
    this.consumerTag = null;
    await Promise.allSettled([...this.inFlight]);
    this.acks?.flush();
    this.acks = null;
    this.channel = null;
    if (ch) await ch.close().catch(() => undefined);
  }

  private async open(conn: ChannelModel): Promise<void> {
    const ch = await conn.createConfirmChannel();
    ch.on('error', (err: Error) => this.logger.warn(`channel error: ${err.message}`));
    ch.on('close', () => {
      if (this.channel !== ch) return;
      this.channel = null;
      this.consumerTag = null;
      if (this.running && this.connection.current === conn) {
        setTimeout(() => {
          if (this.running && this.connection.current === conn && !this.channel) {
            this.open(conn).catch((err: unknown) =>
              this.logger.warn(`reopening the channel failed: ${(err as Error).message}`),
            );
          }
        }, 500);
      }
    });
    await ch.prefetch(CONSUMER_PREFETCH);
    this.channel = ch;
    const acks = new AckBatcher(ch);
    this.acks = acks;
    const { consumerTag } = await ch.consume(
      this.queue.name,
      (msg) => {
        if (!msg) return; // cancelled by the broker (queue deleted); a reconnect re-consumes
        acks.delivered(msg);
        const p = this.handle(ch, acks, msg).catch((err: unknown) =>
          this.logger.error(`unexpected consumer failure: ${(err as Error).message}`),
        );
        this.inFlight.add(p);
        void p.finally(() => this.inFlight.delete(p));
      },
      { noAck: false },
    );
    this.consumerTag = consumerTag;
  }

  private async handle(ch: ConfirmChannel, acks: AckBatcher, msg: ConsumeMessage): Promise<void> {
    const routingKey = typeof msg.properties.type === 'string' ? msg.properties.type : msg.fields.routingKey;
    const parsed = parseEvent(routingKey, msg.content);
    if (!parsed.ok) {
      await this.deadLetter(ch, acks, msg, `malformed message: ${parsed.error}`);
      return;
    }
    if (!this.queue.routingKeys.includes(parsed.event.routingKey)) {
      await this.deadLetter(ch, acks, msg, `routing key ${parsed.event.routingKey} does not belong here`);
      return;
    }
    const err = await this.apply(parsed.event);
    if (err) {
      await this.retryOrDeadLetter(ch, acks, msg, err.message ?? String(err));
      return;
    }
    acks.ack(msg);
  }

  /**
   * Applies the event in a micro-batch with the messages that arrived meanwhile (up to the
   * prefetch): one transaction per batch instead of one per message. Resolves once this event
   * is applied (null) or failed (its error); the caller acks only then.
   */
  private apply(event: DomainEvent): Promise<Error | null> {
    return new Promise((done) => {
      this.batch.push({ event, done });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.batch.length > 0) {
      const items = this.batch;
      this.batch = [];
      let results: (Error | null)[];
      try {
        results = await this.applier.applyBatchStrict(items.map((i) => i.event));
      } catch (err) {
        results = items.map(() => (err instanceof Error ? err : new Error(String(err))));
      }
      items.forEach((item, i) => item.done(results[i] ?? null));
    }
    this.flushing = false;
  }

  private failuresOf(msg: ConsumeMessage): number {
    const headers = (msg.properties.headers ?? {}) as Record<string, unknown>;
    const n = Number(headers[Headers.failures] ?? 0);
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  }

  private async retryOrDeadLetter(
    ch: ConfirmChannel,
    acks: AckBatcher,
    msg: ConsumeMessage,
    error: string,
  ): Promise<void> {
    const failures = this.failuresOf(msg) + 1;
    if (failures >= this.maxDeliveries) {
      await this.deadLetter(ch, acks, msg, `failed ${failures} times, last: ${error}`);
      return;
    }
    const delay = retryDelayMs(failures);
    this.logger.warn(
      `${this.queue.name}: attempt ${failures}/${this.maxDeliveries} failed (${error}); retrying in ${delay} ms`,
    );
    const ok = await this.republish(ch, '', retryQueueName(this.queue.name, delay), msg, {
      [Headers.failures]: failures,
    });
    if (ok) settleAlone(acks, msg, () => ch.ack(msg));
    // Not confirmed: leave it unacked. If the channel died the broker redelivers it; if not,
    // requeue it after a pause (never at once: no hot loop).
    else setTimeout(() => settleAlone(acks, msg, () => ch.nack(msg, false, true)), delay);
  }

  private async deadLetter(
    ch: ConfirmChannel,
    acks: AckBatcher,
    msg: ConsumeMessage,
    reason: string,
  ): Promise<void> {
    this.deadLetters.inc(this.queue.name);
    this.logger.error(
      `${this.queue.name}: dead-lettered message ${msg.properties.messageId ?? '(no id)'}: ${reason}`,
    );
    const ok = await this.republish(ch, DEAD_LETTER_EXCHANGE, this.queue.name, msg, {
      [Headers.error]: reason.slice(0, 500),
    });
    // The queue's own dead-letter exchange is the fallback path to the same `.dlq`.
    settleAlone(acks, msg, () => (ok ? ch.ack(msg) : ch.nack(msg, false, false)));
  }

  /** Publishes a copy (same properties, extra headers) and waits for the confirm. */
  private republish(
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
