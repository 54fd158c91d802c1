import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Database, isDuplicateKey, nowMs } from '@app/core';
import { EventHandlerRegistry } from './event-handler.registry';
import type { DomainEvent } from './events';
import { ProcessedEventEntity } from './processed-event.entity';

/**
 * Applies an event's derived updates at most once, whoever calls it: a consumer, the api's
 * fallback after a failed publish, or the source transaction itself when there is no broker.
 * `processed_events` (primary key `event_id`) is the guard, written in the same transaction.
 */
@Injectable()
export class EventApplier {
  private readonly logger = new Logger(EventApplier.name);

  constructor(
    private readonly db: Database,
    private readonly registry: EventHandlerRegistry,
  ) {}

  /**
   * Inside an open transaction: records the event and applies it. Returns false when the
   * event was already applied (nothing done).
   */
  async applyIn(manager: EntityManager, event: DomainEvent): Promise<boolean> {
    const handler = this.registry.get(event.routingKey);
    if (!handler) throw new Error(`no handler registered for ${event.routingKey}`);
    const already = await manager.findOne(ProcessedEventEntity, {
      where: { eventId: event.payload.event_id },
      select: { eventId: true },
    });
    if (already) return false;
    await manager.insert(ProcessedEventEntity, {
      eventId: event.payload.event_id,
      routingKey: event.routingKey,
      processedAt: nowMs(),
    });
    await handler.apply(manager, event.payload);
    return true;
  }

  /** Its own transaction, then the after-commit effects. Returns false for a duplicate. */
  async apply(event: DomainEvent): Promise<boolean> {
    let applied: boolean;
    try {
      applied = await this.db.transaction((m) => this.applyIn(m, event));
    } catch (err) {
      // A concurrent applier inserted the same event_id first: it is applied, once.
      if (isDuplicateKey(err)) applied = false;
      else throw err;
    }
    await this.afterCommit(event);
    return applied;
  }

  /** Best effort; failures are logged, never thrown (the database is already right). */
  async afterCommit(event: DomainEvent): Promise<void> {
    const handler = this.registry.get(event.routingKey);
    if (!handler?.afterCommit) return;
    try {
      await handler.afterCommit(event.payload);
    } catch (err) {
      this.logger.warn(`after-commit effect of ${event.routingKey} failed: ${(err as Error).message}`);
    }
  }
}
