import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { In } from 'typeorm';
import { Database, nowMs } from '@app/core';
import { EventApplier } from './event-applier.service';
import { EventPublisher } from './event-publisher';
import { EXCHANGE_OF, type DomainEvent } from './events';
import { OutboxEntity, OutboxStatus } from './outbox.entity';

export type Emit = (event: DomainEvent) => void;

/**
 * The write path of ARCHITECTURE.md. `transaction()` runs the caller's work and writes the
 * events it emits in the same transaction (outbox rows with a broker; the derived updates
 * themselves without one). After commit it publishes and waits for confirms; an event that is
 * not confirmed is applied directly (降级直写). Dedupe by `event_id` makes every path safe to
 * repeat, so an event may be published and applied by several parties and still count once.
 */
@Injectable()
export class EventBus {
  private readonly logger = new Logger(EventBus.name);

  constructor(
    private readonly db: Database,
    private readonly publisher: EventPublisher,
    private readonly applier: EventApplier,
  ) {}

  async transaction<T>(work: (manager: EntityManager, emit: Emit) => Promise<T>): Promise<T> {
    let events: DomainEvent[] = [];
    const result = await this.db.transaction(async (manager) => {
      events = []; // a retried transaction starts over
      const value = await work(manager, (e) => events.push(e));
      if (events.length > 0) await this.record(manager, events);
      return value;
    });
    if (events.length > 0) await this.dispatch(events);
    return result;
  }

  private async record(manager: EntityManager, events: DomainEvent[]): Promise<void> {
    const now = nowMs();
    if (!this.publisher.enabled) {
      for (const e of events) await this.applier.applyIn(manager, e);
      return;
    }
    await manager.insert(
      OutboxEntity,
      events.map((e) => ({
        eventId: e.payload.event_id,
        exchange: EXCHANGE_OF[e.routingKey],
        routingKey: e.routingKey,
        payload: JSON.stringify(e.payload),
        status: OutboxStatus.Pending,
        attempts: 0,
        createTime: now,
        updateTime: now,
      })),
    );
  }

  /** After commit. Never throws: the source write is committed and must be reported as done. */
  private async dispatch(events: DomainEvent[]): Promise<void> {
    if (!this.publisher.enabled) {
      for (const e of events) await this.applier.afterCommit(e);
      return;
    }
    const confirmed = await Promise.all(events.map((e) => this.publisher.publish(e)));
    const sent = events.filter((_, i) => confirmed[i]);
    const failed = events.filter((_, i) => !confirmed[i]);
    try {
      if (sent.length > 0) await this.mark(sent, OutboxStatus.Sent);
      for (const e of failed) {
        await this.applier.apply(e);
        await this.mark([e], OutboxStatus.Applied);
      }
    } catch (err) {
      // The outbox rows stay pending; the relay in the worker will finish them.
      this.logger.error(`dispatch after commit failed, left to the outbox relay: ${(err as Error).message}`);
    }
  }

  private async mark(events: DomainEvent[], status: OutboxStatus): Promise<void> {
    await this.db.transaction((m) =>
      m.update(
        OutboxEntity,
        { eventId: In(events.map((e) => e.payload.event_id)), status: OutboxStatus.Pending },
        { status, updateTime: nowMs() },
      ),
    );
  }
}
