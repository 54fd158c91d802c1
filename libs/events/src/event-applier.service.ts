import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Database, isDuplicateKey, nowMs } from '@app/core';
import { ApplyContext } from './apply-context';
import { EventHandlerRegistry } from './event-handler.registry';
import type { DerivedStateHandler } from './event-handler.registry';
import type { DomainEvent, RoutingKey } from './events';
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
    const handler = this.handlerOf(event);
    if (!(await this.record(manager, event))) return false;
    const context = new ApplyContext();
    await handler.apply(manager, event.payload, context);
    await context.flush(manager);
    return true;
  }

  /**
   * Inside an open transaction: records and applies several events, none of which may have been
   * applied before: one multi-row insert into `processed_events`, each handler, then the writes
   * they deferred (one statement per kind for the whole batch). If any event was already
   * recorded it throws {@link AlreadyApplied} before applying anything; the caller rolls back and
   * applies the events one by one, each deduped on its own.
   */
  async applyManyIn(manager: EntityManager, events: DomainEvent[]): Promise<void> {
    if (events.length === 0) return;
    const handlers = events.map((e) => this.handlerOf(e));
    if ((await this.recordMany(manager, events)) !== events.length) throw new AlreadyApplied();
    const context = new ApplyContext();
    for (let i = 0; i < events.length; i++) await handlers[i].apply(manager, events[i].payload, context);
    await context.flush(manager);
  }

  private handlerOf(event: DomainEvent): DerivedStateHandler<RoutingKey> {
    const handler = this.registry.get<RoutingKey>(event.routingKey);
    if (!handler) throw new Error(`no handler registered for ${event.routingKey}`);
    return handler;
  }

  /** `INSERT IGNORE` of every event id in one statement: how many were new. */
  private async recordMany(manager: EntityManager, events: DomainEvent[]): Promise<number> {
    const runner = manager.queryRunner;
    if (!runner) throw new Error('events are recorded inside a transaction');
    const now = nowMs();
    const verb = this.db.dialect === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE';
    const result = (await runner.query(
      `${verb} INTO processed_events (event_id, routing_key, processed_at) VALUES ${events.map(() => '(?, ?, ?)').join(', ')}`,
      events.flatMap((e) => [e.payload.event_id, e.routingKey, now]),
      true,
    )) as { affected?: number };
    return result.affected ?? 0;
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
   * {@link applyStrict} for several events (the api's fallback for one batch of writes): their
   * database parts in one transaction (in `video_id` order, like a consumer's batch, so the two
   * cannot deadlock), each still deduped by its `event_id`, then their after-commit effects.
   */
  async applyAllStrict(events: DomainEvent[]): Promise<void> {
    if (events.length === 1) {
      await this.applyStrict(events[0]);
      return;
    }
    try {
      await this.db.transaction((m) => this.applyManyIn(m, byVideo(events)));
    } catch (err) {
      if (!(err instanceof AlreadyApplied) && !isDuplicateKey(err)) throw err;
      // Some were applied already (a publish whose confirm was lost): one transaction each.
      for (const e of events) await this.applyDatabase(e);
    }
    const failure = (await this.afterCommitAll(events)).find((e) => e !== null);
    if (failure) throw failure;
  }

  /**
   * The after-commit effects of a batch: per routing key, `afterCommitMany` once for its events
   * when the handler has it, else `afterCommit` for each. One entry per event: null, or the error
   * of the call that covered it.
   */
  private async afterCommitAll(events: DomainEvent[]): Promise<(Error | null)[]> {
    const out: (Error | null)[] = events.map(() => null);
    const byKey = new Map<RoutingKey, number[]>();
    events.forEach((e, i) => byKey.set(e.routingKey, [...(byKey.get(e.routingKey) ?? []), i]));
    await Promise.all(
      [...byKey].map(async ([key, indexes]) => {
        const handler = this.registry.get<RoutingKey>(key);
        if (handler?.afterCommitMany) {
          const err = await settle(handler.afterCommitMany(indexes.map((i) => events[i].payload)));
          for (const i of indexes) out[i] = err;
        } else if (handler?.afterCommit) {
          const commit = handler.afterCommit.bind(handler);
          await Promise.all(
            indexes.map(async (i) => {
              out[i] = await settle(commit(events[i].payload));
            }),
          );
        }
      }),
    );
    return out;
  }

  /**
   * A consumer's micro-batch: the database parts of all `events` in one transaction (one commit
   * and a few statements instead of several per event; see {@link applyManyIn}), in `video_id`
   * order so concurrent batches take row locks in the same order; then each after-commit effect.
   * Resolves one entry per event, in order: `null` when it is fully applied, else its error. If
   * the shared transaction fails, every event is applied alone, so one bad event (which then gets
   * its own retry / dead-letter) cannot hold back the others, nor be counted twice.
   */
  async applyBatchStrict(events: DomainEvent[]): Promise<(Error | null)[]> {
    if (events.length === 1) return [await settle(this.applyStrict(events[0]))];
    try {
      await this.db.transaction((m) => this.applyManyIn(m, byVideo(events)));
    } catch {
      const out: (Error | null)[] = [];
      for (const e of events) out.push(await settle(this.applyStrict(e)));
      return out;
    }
    return this.afterCommitAll(events);
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

function settle(p: Promise<unknown>): Promise<Error | null> {
  return p.then(
    () => null,
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );
}

/** Some events of a batch were applied before: the batch is redone one event at a time. */
export class AlreadyApplied extends Error {
  constructor() {
    super('some events of the batch were already applied');
  }
}

function videoOf(event: DomainEvent): number {
  const id = (event.payload as { video_id?: unknown }).video_id;
  return typeof id === 'number' ? id : 0;
}

/** Events in `video_id` order (stable): every batch locks video rows in the same order. */
function byVideo(events: DomainEvent[]): DomainEvent[] {
  return [...events].sort((a, b) => videoOf(a) - videoOf(b));
}
