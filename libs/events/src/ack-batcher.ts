import type { Channel, Message } from 'amqplib';

/**
 * Acks for one consumer channel, batched: messages applied in the same tick are acked with one
 * `basic.ack` (`multiple`) up to the highest delivery tag below which every outstanding message
 * is done, instead of one frame (and one socket write) each. A message still in flight below a
 * done one cannot be covered by a multiple ack, so the done ones above it are acked one by one.
 * Every delivery is acked, nacked or settled exactly once: a tag acked twice closes the channel.
 */
export class AckBatcher {
  /** Delivered and not yet acked or nacked, in delivery (tag) order. */
  private readonly outstanding: number[] = [];
  private readonly done = new Map<number, Message>();
  private scheduled = false;

  constructor(private readonly channel: Channel) {}

  /** Every delivery passes here first, in the order the broker sent them. */
  delivered(msg: Message): void {
    this.outstanding.push(msg.fields.deliveryTag);
  }

  /** Applied: acked with the next batch (this tick's). */
  ack(msg: Message): void {
    this.done.set(msg.fields.deliveryTag, msg);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Acked or nacked on its own (retry, dead letter): no longer ours to ack. */
  settledAlone(msg: Message): void {
    this.forget(msg.fields.deliveryTag);
  }

  private forget(tag: number): void {
    const i = this.outstanding.indexOf(tag);
    if (i >= 0) this.outstanding.splice(i, 1);
  }

  /** Sends every pending ack now (before the channel closes). */
  flush(): void {
    this.scheduled = false;
    if (this.done.size === 0) return;
    let upTo: Message | undefined;
    let n = 0;
    while (n < this.outstanding.length && this.done.has(this.outstanding[n])) {
      upTo = this.done.get(this.outstanding[n]);
      this.done.delete(this.outstanding[n]);
      n++;
    }
    this.outstanding.splice(0, n);
    const rest = [...this.done.values()];
    this.done.clear();
    for (const m of rest) this.forget(m.fields.deliveryTag);
    try {
      if (upTo) this.channel.ack(upTo, true);
      for (const m of rest) this.channel.ack(m);
    } catch {
      /* the channel closed: the broker redelivers whatever it did not get an ack for */
    }
  }
}
