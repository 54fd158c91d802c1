import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Database, isDeadlock, nowMs } from '@app/core';
import { EventApplier } from './event-applier.service';
import { EventPublisher } from './event-publisher';
import { EXCHANGE_OF, type DomainEvent } from './events';
import { OutboxStatus } from './outbox.entity';
import { OutboxMarker } from './outbox-marker.service';

export type Emit = (event: DomainEvent) => void;

type Work = (manager: EntityManager, emit: Emit) => Promise<unknown>;
interface Queued {
  work: Work;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}
type Outcome = { ok: true; value: unknown; events: DomainEvent[] } | { ok: false; err: unknown };

/** Writes per group-commit transaction, and such transactions in flight at once. */
const MAX_BATCH = 32;
const MAX_CONCURRENT_BATCHES = 8;

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
    private readonly marker: OutboxMarker,
  ) {}

  async transaction<T>(work: (manager: EntityManager, emit: Emit) => Promise<T>): Promise<T> {
    if (this.db.dialect === 'mysql' && this.publisher.enabled) {
      return new Promise<T>((resolve, reject) => {
        this.queued.push({ work, resolve, reject } as Queued);
        this.schedule();
      });
    }
    return this.alone(work);
  }

  /** One write in its own transaction (SQLite, the no-broker profile, or a batch that failed). */
  private async alone<T>(work: (manager: EntityManager, emit: Emit) => Promise<T>): Promise<T> {
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

  /**
   * Group commit (MySQL with a broker): writes that arrive together share one transaction, one
   * outbox INSERT and one commit (one log flush) instead of a transaction each. Each write runs
   * behind its own SAVEPOINT, so a write that fails (409, 404, any error) is rolled back alone and
   * rejected alone; the others commit. Each caller is answered only after the commit and its own
   * events' dispatch, exactly as {@link alone}. If the batch fails before COMMIT was sent, nothing
   * of it was committed and every write is run again in its own transaction; if COMMIT itself
   * fails (outcome unknown) every write is rejected, as a lone transaction would be.
   */
  private readonly queued: Queued[] = [];
  private running = 0;

  private schedule(): void {
    if (this.running >= MAX_CONCURRENT_BATCHES || this.queued.length === 0) return;
    this.running++;
    setImmediate(() => {
      const batch = this.queued.splice(0, MAX_BATCH);
      void this.runBatch(batch).finally(() => {
        this.running--;
        this.schedule();
      });
    });
  }

  private async runBatch(batch: Queued[]): Promise<void> {
    if (batch.length === 0) return;
    if (batch.length === 1) {
      const [one] = batch;
      await this.alone(one.work).then(one.resolve, one.reject);
      return;
    }
    let outcomes: Outcome[] = [];
    let committing = false;
    try {
      await this.db.transaction(async (manager) => {
        outcomes = []; // a retried transaction (deadlock) starts over
        committing = false;
        for (const item of batch) {
          await manager.query('SAVEPOINT fsv_write');
          const events: DomainEvent[] = [];
          try {
            const value = await item.work(manager, (e) => events.push(e));
            outcomes.push({ ok: true, value, events });
          } catch (err) {
            if (isDeadlock(err)) throw err; // the whole transaction is gone: retry it
            await manager.query('ROLLBACK TO SAVEPOINT fsv_write');
            outcomes.push({ ok: false, err });
          }
        }
        const events = outcomes.flatMap((o) => (o.ok ? o.events : []));
        if (events.length > 0) await this.record(manager, events);
        committing = true;
      });
    } catch (err) {
      if (committing) {
        for (const item of batch) item.reject(err);
        return;
      }
      // Nothing of the batch was committed: each write on its own, as if never batched.
      await Promise.all(batch.map((item) => this.alone(item.work).then(item.resolve, item.reject)));
      return;
    }
    await Promise.all(
      batch.map(async (item, i) => {
        const o = outcomes[i];
        if (!o.ok) return item.reject(o.err);
        if (o.events.length > 0) await this.dispatch(o.events);
        item.resolve(o.value);
      }),
    );
  }

  private async record(manager: EntityManager, events: DomainEvent[]): Promise<void> {
    const now = nowMs();
    if (!this.publisher.enabled) {
      for (const e of events) await this.applier.applyIn(manager, e);
      return;
    }
    // One raw multi-row INSERT: no entity mapping, and no read-back of generated columns.
    const rows = events.map(() => '(?, ?, ?, ?, ?, 0, ?, ?)').join(', ');
    const params: unknown[] = [];
    for (const e of events) {
      params.push(
        e.payload.event_id,
        EXCHANGE_OF[e.routingKey],
        e.routingKey,
        JSON.stringify(e.payload),
        OutboxStatus.Pending,
        now,
        now,
      );
    }
    await manager.query(
      `INSERT INTO outbox (event_id, exchange, routing_key, payload, status, attempts, create_time, update_time) VALUES ${rows}`,
      params,
    );
  }

  /** After commit. Never throws: the source write is committed and must be reported as done. */
  private async dispatch(events: DomainEvent[]): Promise<void> {
    if (!this.publisher.enabled) {
      for (const e of events) await this.applier.afterCommit(e);
      return;
    }
    const confirmed = await Promise.all(events.map((e) => this.publisher.publish(e)));
    this.marker.mark(
      events.filter((_, i) => confirmed[i]).map((e) => e.payload.event_id),
      OutboxStatus.Sent,
    );
    const unconfirmed = events.filter((_, i) => !confirmed[i]);
    const applied: string[] = [];
    if (unconfirmed.length > 0) {
      try {
        // All of this write's unconfirmed events in one transaction (one commit, each deduped).
        await this.applier.applyAllStrict(unconfirmed);
        applied.push(...unconfirmed.map((e) => e.payload.event_id));
      } catch (err) {
        // The rows stay Pending; the outbox relay in the worker finishes them.
        this.logger.warn(
          `direct apply of ${unconfirmed.map((e) => e.routingKey).join(', ')} failed, left to the outbox relay: ${(err as Error).message}`,
        );
      }
    }
    this.marker.mark(applied, OutboxStatus.Applied);
  }
}
