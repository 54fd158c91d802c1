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
    if (!(await this.record(manager, event))) return false;
    await handler.apply(manager, event.payload);
    return true;
  }

  /**
   * Inserts the `processed_events` row unless it exists: one round trip, and no failed statement
   * (nor error log) for a duplicate. True when this call recorded it.
   */
  private async record(manager: EntityManager, event: DomainEvent): Promise<boolean> {
    const runner = manager.queryRunner;
    const params = [event.payload.event_id, event.routingKey, nowMs()];
    if (!runner) {
      // Not inside a transaction (should not happen): the plain insert still dedupes by its key.
      await manager.insert(ProcessedEventEntity, {
        eventId: params[0] as string,
        routingKey: params[1] as string,
        processedAt: params[2] as number,
      });
      return true;
    }
    const verb = this.db.dialect === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE';
    const result = (await runner.query(
      `${verb} INTO processed_events (event_id, routing_key, processed_at) VALUES (?, ?, ?)`,
      params,
      true,
    )) as { affected?: number };
    return (result.affected ?? 0) > 0;
  }

  /** Its own transaction, then the after-commit effects. Returns false for a duplicate. */
  async apply(event: DomainEvent): Promise<boolean> {
    const applied = await this.applyDatabase(event);
    await this.afterCommit(event);
    return applied;
  }

  /**
   * Like {@link apply}, but an after-commit failure is thrown rather than logged, so the caller
   * (a consumer, the outbox relay, the api's fallback) can try again later: the database part is
   * deduped by `event_id` and after-commit effects are idempotent themselves (e.g. the hot-bucket
   * script keys its own dedupe by `event_id`), so a repeat completes what failed and nothing else.
   */
  async applyStrict(event: DomainEvent): Promise<boolean> {
    const applied = await this.applyDatabase(event);
    const handler = this.registry.get(event.routingKey);
    if (handler?.afterCommit) await handler.afterCommit(event.payload);
    return applied;
  }

  /**
   * {@link applyStrict} for several events (the api's fallback for one write): their database
   * parts in one transaction, each still deduped by its `event_id`, then their after-commit effects.
   */
  async applyAllStrict(events: DomainEvent[]): Promise<void> {
    if (events.length === 1) {
      await this.applyStrict(events[0]);
      return;
    }
    try {
      await this.db.transaction(async (m) => {
        for (const e of events) await this.applyIn(m, e);
      });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      // Only on the no-transaction insert path; fall back to one transaction per event.
      for (const e of events) await this.applyDatabase(e);
    }
    for (const e of events) {
      const handler = this.registry.get(e.routingKey);
      if (handler?.afterCommit) await handler.afterCommit(e.payload);
    }
  }

  /**
   * A consumer's micro-batch: the database parts of all `events` in one transaction (one commit
   * instead of one per event; each still deduped by its own `event_id`), applied in `video_id`
   * order so concurrent batches take row locks in the same order; then each after-commit effect.
   * Resolves one entry per event, in order: `null` when it is fully applied, else its error. If
   * the shared transaction fails, every event is applied alone, so one bad event (which then gets
   * its own retry / dead-letter) cannot hold back the others, nor be counted twice.
   */
  async applyBatchStrict(events: DomainEvent[]): Promise<(Error | null)[]> {
    const settle = (p: Promise<unknown>): Promise<Error | null> =>
      p.then(
        () => null,
        (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
      );
    if (events.length === 1) return [await settle(this.applyStrict(events[0]))];
    const ordered = [...events].sort((a, b) => videoOf(a) - videoOf(b));
    try {
      await this.db.transaction(async (m) => {
        for (const e of ordered) await this.applyIn(m, e);
      });
    } catch {
      const out: (Error | null)[] = [];
      for (const e of events) out.push(await settle(this.applyStrict(e)));
      return out;
    }
    return Promise.all(
      events.map((e) => {
        const handler = this.registry.get(e.routingKey);
        return settle(Promise.resolve(handler?.afterCommit?.(e.payload)));
      }),
    );
  }

  private async applyDatabase(event: DomainEvent): Promise<boolean> {
    try {
      return await this.db.transaction((m) => this.applyIn(m, event));
    } catch (err) {
      // A concurrent applier inserted the same event_id first: it is applied, once.
      if (isDuplicateKey(err)) return false;
      throw err;
    }
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

function videoOf(event: DomainEvent): number {
  const id = (event.payload as { video_id?: unknown }).video_id;
  return typeof id === 'number' ? id : 0;
}
