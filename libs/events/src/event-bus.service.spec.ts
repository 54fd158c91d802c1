import type { DependencyState } from '@app/cache';
import type { Database } from '@app/core';
import type { EntityManager } from 'typeorm';
import { EventBus, MAX_BACKGROUND_EVENTS } from './event-bus.service';
import type { EventApplier } from './event-applier.service';
import { EventPublisher } from './event-publisher';
import { makeEvent, type DomainEvent } from './events';
import { OutboxStatus } from './outbox.entity';
import type { OutboxMarker } from './outbox-marker.service';

/** A broker whose confirms the test hands out one by one. */
class HeldPublisher extends EventPublisher {
  readonly enabled = true;
  up = true;
  readonly held: { event: DomainEvent; confirm: (ok: boolean) => void }[] = [];

  state(): DependencyState {
    return this.up ? 'up' : 'down';
  }

  publish(event: DomainEvent): Promise<boolean> {
    if (!this.up) return Promise.resolve(false);
    return new Promise((confirm) => this.held.push({ event, confirm }));
  }

  queueDepths(): Promise<Map<string, number> | null> {
    return Promise.resolve(null);
  }

  confirmAll(ok: boolean): void {
    for (const h of this.held.splice(0)) h.confirm(ok);
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup(): {
  bus: EventBus;
  publisher: HeldPublisher;
  outboxRows: unknown[][];
  applied: string[];
  marks: { ids: string[]; status: OutboxStatus }[];
} {
  const outboxRows: unknown[][] = [];
  const manager = {
    query: (_sql: string, params: unknown[]) => {
      outboxRows.push(params);
      return Promise.resolve([]);
    },
  } as unknown as EntityManager;
  const db = {
    transaction: <T>(work: (m: EntityManager) => Promise<T>) => work(manager),
  } as unknown as Database;
  const applied: string[] = [];
  const applier = {
    applyDirectly: (events: DomainEvent[]) => {
      applied.push(...events.map((e) => e.payload.event_id));
      return Promise.resolve();
    },
  } as unknown as EventApplier;
  const marks: { ids: string[]; status: OutboxStatus }[] = [];
  const marker = {
    mark: (ids: string[], status: OutboxStatus) => {
      if (ids.length > 0) marks.push({ ids, status });
    },
  } as unknown as OutboxMarker;
  const publisher = new HeldPublisher();
  return { bus: new EventBus(db, publisher, applier, marker), publisher, outboxRows, applied, marks };
}

const like = (videoId: number): DomainEvent => makeEvent('like.like', { account_id: 1, video_id: videoId });

describe('EventBus', () => {
  it('with the broker up, a write answers at commit; its events are confirmed and marked Sent afterwards', async () => {
    const { bus, publisher, outboxRows, marks } = setup();
    const e = like(1);
    await expect(bus.transaction(async (_m, emit) => (emit(e), 'done'))).resolves.toBe('done');
    expect(outboxRows).toHaveLength(1); // written in the transaction
    expect(publisher.held.map((h) => h.event)).toEqual([e]); // published, not yet confirmed
    expect(bus.pendingInBackground).toBe(1);
    expect(marks).toEqual([]);
    publisher.confirmAll(true);
    await tick();
    expect(marks).toEqual([{ ids: [e.payload.event_id], status: OutboxStatus.Sent }]);
    expect(bus.pendingInBackground).toBe(0);
  });

  it('an event the broker does not confirm is applied directly in the background and marked Applied', async () => {
    const { bus, publisher, applied, marks } = setup();
    const e = like(2);
    await bus.transaction(async (_m, emit) => emit(e));
    expect(applied).toEqual([]);
    publisher.confirmAll(false);
    await tick();
    expect(applied).toEqual([e.payload.event_id]);
    expect(marks).toEqual([{ ids: [e.payload.event_id], status: OutboxStatus.Applied }]);
  });

  it('with the broker down, the write waits for the direct apply: it is visible when the write answers', async () => {
    const { bus, publisher, applied, marks } = setup();
    publisher.up = false;
    const e = like(3);
    await bus.transaction(async (_m, emit) => emit(e));
    expect(applied).toEqual([e.payload.event_id]);
    expect(marks).toEqual([{ ids: [e.payload.event_id], status: OutboxStatus.Applied }]);
    expect(bus.pendingInBackground).toBe(0);
  });

  it(`past ${MAX_BACKGROUND_EVENTS} unconfirmed events a write waits for its own confirms (back-pressure)`, async () => {
    const { bus, publisher } = setup();
    await bus.transaction(async (_m, emit) => {
      for (let i = 0; i < MAX_BACKGROUND_EVENTS; i++) emit(like(i + 1));
    });
    expect(bus.pendingInBackground).toBe(MAX_BACKGROUND_EVENTS);
    let answered = false;
    const write = bus.transaction(async (_m, emit) => emit(like(0))).then(() => (answered = true));
    await tick();
    expect(answered).toBe(false);
    publisher.confirmAll(true);
    await write;
    expect(answered).toBe(true);
    expect(bus.pendingInBackground).toBe(0);
  });

  it('shutdown waits for the background publishes to settle', async () => {
    const { bus, publisher, marks } = setup();
    await bus.transaction(async (_m, emit) => emit(like(4)));
    let closed = false;
    const closing = bus.onModuleDestroy().then(() => (closed = true));
    await tick();
    expect(closed).toBe(false);
    publisher.confirmAll(true);
    await closing;
    expect(marks).toHaveLength(1);
  });
});
