import type { Channel, Message } from 'amqplib';
import { AckBatcher } from './ack-batcher';

/** A channel that records acks the way the broker sees them, and fails on a double ack. */
class RecordingChannel {
  readonly frames: string[] = [];
  private readonly unacked = new Set<number>();

  deliver(tag: number): Message {
    this.unacked.add(tag);
    return { fields: { deliveryTag: tag } } as unknown as Message;
  }

  ack(msg: Message, allUpTo = false): void {
    const tag = msg.fields.deliveryTag;
    if (!this.unacked.has(tag)) throw new Error(`PRECONDITION_FAILED - unknown delivery tag ${tag}`);
    if (allUpTo) for (const t of [...this.unacked]) if (t <= tag) this.unacked.delete(t);
    this.unacked.delete(tag);
    this.frames.push(allUpTo ? `ack<=${tag}` : `ack ${tag}`);
  }

  nack(msg: Message): void {
    const tag = msg.fields.deliveryTag;
    if (!this.unacked.has(tag)) throw new Error(`PRECONDITION_FAILED - unknown delivery tag ${tag}`);
    this.unacked.delete(tag);
    this.frames.push(`nack ${tag}`);
  }

  get stillUnacked(): number[] {
    return [...this.unacked].sort((a, b) => a - b);
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup(n: number): { ch: RecordingChannel; acks: AckBatcher; msgs: Message[] } {
  const ch = new RecordingChannel();
  const acks = new AckBatcher(ch as unknown as Channel);
  const msgs = Array.from({ length: n }, (_, i) => ch.deliver(i + 1));
  for (const m of msgs) acks.delivered(m);
  return { ch, acks, msgs };
}

describe('AckBatcher', () => {
  it('acks everything applied in one tick with a single multiple ack', async () => {
    const { ch, acks, msgs } = setup(5);
    for (const m of msgs) acks.ack(m);
    expect(ch.frames).toEqual([]); // nothing before the tick ends
    await tick();
    expect(ch.frames).toEqual(['ack<=5']);
    expect(ch.stillUnacked).toEqual([]);
  });

  it('never covers a message still in flight: the done ones above it are acked one by one', async () => {
    const { ch, acks, msgs } = setup(5);
    acks.ack(msgs[0]);
    acks.ack(msgs[1]);
    acks.ack(msgs[3]);
    acks.ack(msgs[4]);
    await tick();
    expect(ch.frames).toEqual(['ack<=2', 'ack 4', 'ack 5']);
    expect(ch.stillUnacked).toEqual([3]);
    acks.ack(msgs[2]);
    await tick();
    expect(ch.frames.at(-1)).toBe('ack<=3');
    expect(ch.stillUnacked).toEqual([]);
  });

  it('a message settled on its own (retry, dead letter, delayed nack) is never acked again', async () => {
    const { ch, acks, msgs } = setup(4);
    acks.ack(msgs[0]);
    acks.ack(msgs[3]);
    // message 2 is nacked later (a delayed requeue), message 3 acked alone after a republish
    await tick();
    expect(ch.frames).toEqual(['ack<=1', 'ack 4']);
    acks.settledAlone(msgs[2]);
    ch.ack(msgs[2]);
    acks.settledAlone(msgs[1]);
    ch.nack(msgs[1]);
    await tick();
    expect(ch.stillUnacked).toEqual([]);
    expect(ch.frames).toEqual(['ack<=1', 'ack 4', 'ack 3', 'nack 2']);
  });

  it('a pending nack below later acks holds the multiple ack back until it is sent', async () => {
    const { ch, acks, msgs } = setup(3);
    acks.ack(msgs[0]);
    acks.ack(msgs[2]);
    await tick();
    expect(ch.frames).toEqual(['ack<=1', 'ack 3']);
    const more = [ch.deliver(4), ch.deliver(5)];
    for (const m of more) acks.delivered(m);
    for (const m of more) acks.ack(m);
    await tick();
    // 2 is still outstanding (its nack is pending): 4 and 5 must not be covered by a multiple ack
    expect(ch.frames.slice(2)).toEqual(['ack 4', 'ack 5']);
    acks.settledAlone(msgs[1]);
    ch.nack(msgs[1]);
    expect(ch.stillUnacked).toEqual([]);
  });

  it('flush() sends pending acks at once (before a channel closes)', () => {
    const { ch, acks, msgs } = setup(2);
    acks.ack(msgs[0]);
    acks.ack(msgs[1]);
    acks.flush();
    expect(ch.frames).toEqual(['ack<=2']);
  });

  it('an ack on a closed channel is swallowed (the broker redelivers)', () => {
    let tried = 0;
    const closed = new AckBatcher({
      ack: () => {
        tried++;
        throw new Error('Channel closed');
      },
    } as unknown as Channel);
    const msg = { fields: { deliveryTag: 1 } } as unknown as Message;
    closed.delivered(msg);
    closed.ack(msg);
    expect(() => closed.flush()).not.toThrow();
    expect(tried).toBe(1);
  });
});
