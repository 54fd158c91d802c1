import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Database, nowMs } from '@app/core';
import type { ApplyContext } from './apply-context';
import { EventApplier } from './event-applier.service';
import { EventPublisher } from './event-publisher';
import { EXCHANGE_OF, type DomainEvent } from './events';
import { OutboxStatus } from './outbox.entity';
import { OutboxMarker } from './outbox-marker.service';

export type Emit = (event: DomainEvent) => void;

/**
 * Most events whose publish may still be waiting for its confirm after the write has answered.
 * Beyond it a write waits for its own confirms before it answers (back-pressure on a slow broker).
 */
export const MAX_BACKGROUND_EVENTS = 5000;

/**
 * The write path of ARCHITECTURE.md. `transaction()` runs the caller's work and writes the
 * events it emits in the same transaction (outbox rows with a broker; the derived updates
 * themselves without one). After commit it publishes and waits for confirms; an event that is
 * not confirmed is applied directly (降级直写). Dedupe by `event_id` makes every path safe to
 * repeat, so an event may be published and applied by several parties and still count once.
 *
 * While the broker is up, the write answers at commit and its events are published (and, if not
 * confirmed, applied directly) in the background: the commit already made them durable in the
 * outbox, and a process that dies before they are confirmed leaves them Pending for the relay.
 * While the broker is down, or {@link MAX_BACKGROUND_EVENTS} are already waiting, the write
 * waits for that work before it answers, so the direct write is visible when it answers.
 */
@Injectable()
export class EventBus implements OnModuleDestroy {
  private readonly logger = new Logger(EventBus.name);
  /** Dispatches running after their write answered, and how many events they hold. */
  private readonly background = new Set<Promise<void>>();
  private backgroundEvents = 0;

  constructor(
    private readonly db: Database,
    private readonly publisher: EventPublisher,
    private readonly applier: EventApplier,
    private readonly marker: OutboxMarker,
  ) {}

  /**
   * True without a broker: the derived updates (counters) are written by the source transaction
   * itself, so a writer that reads a row it will then update should lock it for update, not share.
   */
  get derivesInTransaction(): boolean {
    return !this.publisher.enabled;
  }

  /**
   * `onCommit` runs once the source transaction has committed, before the events are published
   * (a group commit frees its slot there: the next batch need not wait for these confirms).
   */
  async transaction<T>(
    work: (manager: EntityManager, emit: Emit) => Promise<T>,
    onCommit?: () => void,
  ): Promise<T> {
    let events: DomainEvent[] = [];
    let applied: ApplyContext | null = null;
    const result = await this.db.transaction(async (manager) => {
      events = []; // a retried transaction starts over
      const value = await work(manager, (e) => events.push(e));
      if (events.length > 0) applied = await this.record(manager, events);
      return value;
    });
    onCommit?.();
    if (events.length === 0) return result;
    if (applied) {
      await this.afterCommitOfSource(applied);
      return result;
    }
    if (
      this.publisher.enabled &&
      this.publisher.state() === 'up' &&
      this.backgroundEvents + events.length <= MAX_BACKGROUND_EVENTS
    ) {
      this.inBackground(events);
    } else {
      await this.dispatch(events);
    }
    return result;
  }

  /** Events published in the background that have not settled yet (for tests and metrics). */
  get pendingInBackground(): number {
    return this.backgroundEvents;
  }

  private inBackground(events: DomainEvent[]): void {
    this.backgroundEvents += events.length;
    const run = this.dispatch(events)
      .catch((err: unknown) => this.logger.error(`background dispatch failed: ${(err as Error).message}`))
      .finally(() => {
        this.backgroundEvents -= events.length;
        this.background.delete(run);
      });
    this.background.add(run);
  }

  /** Shutdown: lets background publishes finish (each is bounded by the confirm timeout). */
  async onModuleDestroy(): Promise<void> {
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  /**
   * Without a broker: the derived updates themselves, in this transaction (their context, whose
   * after-commit effects run once it commits). With one: the outbox rows (null).
   */
  private async record(manager: EntityManager, events: DomainEvent[]): Promise<ApplyContext | null> {
    const now = nowMs();
    if (!this.publisher.enabled) return this.applier.applyInSourceTransaction(manager, events);
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
    return null;
  }

  /** No broker: the after-commit effects of the write's own apply. Never throws (the write is committed). */
  private async afterCommitOfSource(ctx: ApplyContext): Promise<void> {
    const err = await ctx.runAfterCommit();
    if (err) this.logger.warn(`an after-commit effect failed: ${err.message}`);
  }

  /** After commit. Never throws: the source write is committed and must be reported as done. */
  private async dispatch(events: DomainEvent[]): Promise<void> {
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
        await this.applier.applyDirectly(unconfirmed);
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
