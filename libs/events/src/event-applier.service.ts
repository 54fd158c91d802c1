import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Database, isConnectionError, nowMs } from '@app/core';
import { ApplyContext } from './apply-context';
import { EventContext } from './event-context';
import { EventHandlers } from './event-handlers';
import type { DomainEvent } from './events';

/** Runs an event's handlers with its context: directly, or through Nest's microservice pipeline. */
export type HandlerInvoker = (event: DomainEvent, ctx: EventContext) => Promise<void>;

/** Events run through their handlers in one context, and that context. */
interface Part {
  events: DomainEvent[];
  ctx: ApplyContext;
}

/** Some events of a batch were applied before and some not: the batch is split (see `applyBatch`). */
export class AlreadyApplied extends Error {
  constructor() {
    super('some events of the batch were already applied');
  }
}

/**
 * Applies events' derived state at most once, with ONE implementation (the `@EventPattern`
 * handlers) for its three callers, each a public method below. For events that came through a
 * queue or an outbox, `processed_events` (primary key `event_id`) is the guard, written in the same
 * transaction as the handlers' deferred writes (the no-broker caller's events, made by that very
 * transaction, need none); their after-commit effects run after the commit.
 */
@Injectable()
export class EventApplier {
  private readonly direct: HandlerInvoker;

  constructor(
    private readonly db: Database,
    private readonly handlers: EventHandlers,
  ) {
    this.direct = (event, ctx) => this.handlers.invoke(event, ctx);
  }

  /**
   * Caller 1, no broker: inside the write's own transaction, applies the new events. Returns their
   * context; the caller runs `runAfterCommit()` once its transaction commits. Nothing is recorded
   * in `processed_events`: these events were made by this transaction, are in no outbox and reach
   * no queue, so nothing can apply them a second time (one statement less per write).
   */
  async applyInSourceTransaction(manager: EntityManager, events: DomainEvent[]): Promise<ApplyContext> {
    const ctx = new ApplyContext(manager);
    if (events.length === 0) return ctx;
    for (const e of events) await this.direct(e, new EventContext([e, ctx]));
    await ctx.flushWrites();
    return ctx;
  }

  /**
   * Caller 2, the api's fallback after a failed publish (降级直写), and the outbox relay: applies
   * the events now, in as few transactions as possible. Throws the first failure (the outbox rows
   * stay Pending for the relay); a repeat is safe, each event counts once.
   */
  async applyDirectly(events: DomainEvent[]): Promise<void> {
    const failure = (await this.applyBatch(events, this.direct)).find((r) => r !== null);
    if (failure) throw failure;
  }

  /**
   * Caller 3, a consumer's micro-batch (`invoke` goes through the worker's `@EventPattern`
   * handlers). One entry per event, in order: `null` once it is fully applied, else its error.
   */
  applyConsumerBatch(events: DomainEvent[], invoke: HandlerInvoker = this.direct): Promise<(Error | null)[]> {
    return this.applyBatch(events, invoke);
  }

  /**
   * Caller 4, a consumer's micro-batch from a queue whose handlers only add after-commit effects
   * that dedupe themselves (`ConsumerQueue.effectsOnly`: the hot buckets): the handlers, then
   * the effects once, with no transaction and nothing recorded (the events' writes are applied, and
   * recorded, through another queue). A handler that defers a write here is a bug, refused. If a
   * handler throws, each event is run alone, so one cannot hold back the others.
   */
  async applyEffectsOnly(
    events: DomainEvent[],
    invoke: HandlerInvoker = this.direct,
  ): Promise<(Error | null)[]> {
    if (events.length === 0) return [];
    const attempt = async (batch: DomainEvent[]): Promise<Error | null> => {
      const ctx = new ApplyContext(this.db.manager);
      for (const e of batch) await invoke(e, new EventContext([e, ctx]));
      if (ctx.hasWrites)
        throw new Error(
          `a handler deferred a database write in an effects-only queue (${batch[0].routingKey})`,
        );
      return ctx.runAfterCommit();
    };
    try {
      const err = await attempt(events);
      return events.map(() => err);
    } catch (err) {
      if (events.length === 1) return [asError(err)];
    }
    const out: (Error | null)[] = [];
    for (const e of events) out.push(await attempt([e]).catch(asError));
    return out;
  }

  /**
   * All events in one transaction: one multi-row insert into `processed_events`, every handler,
   * the writes they deferred (one statement per kind for the whole batch), commit, then the
   * after-commit effects once. A batch whose events were all applied before (redeliveries, or
   * events back from a retry queue after an after-commit step failed) runs its handlers for their
   * effects in one transaction, its writes discarded. A batch that mixes the two is split by one
   * read of `processed_events` and applied in one more transaction: new events' writes kept, the
   * others' discarded. If that read is overtaken (another applier recorded one of the events in
   * between), or a handler fails, each event is applied alone, so one bad event cannot hold back
   * the others nor be counted twice. An unreachable database fails them all at once.
   */
  private async applyBatch(events: DomainEvent[], invoke: HandlerInvoker): Promise<(Error | null)[]> {
    if (events.length === 0) return [];
    if (events.length === 1) return this.oneByOne(events, invoke);
    let parts: Part[];
    try {
      parts = await this.db.transaction(async (m) => {
        const recorded = await this.record(m, events);
        if (recorded === events.length) return [await this.run(m, events, invoke, true)];
        if (recorded === 0) return [await this.run(m, events, invoke, false)];
        throw new AlreadyApplied();
      });
    } catch (err) {
      if (isConnectionError(err)) return events.map(() => asError(err));
      if (!(err instanceof AlreadyApplied)) return this.oneByOne(events, invoke);
      try {
        parts = await this.db.transaction((m) => this.applySplit(m, events, invoke));
      } catch (again) {
        if (isConnectionError(again)) return events.map(() => asError(again));
        return this.oneByOne(events, invoke);
      }
    }
    const failures = await Promise.all(parts.map((p) => p.ctx.runAfterCommit()));
    const byEvent = new Map<DomainEvent, Error | null>();
    parts.forEach((p, i) => p.events.forEach((e) => byEvent.set(e, failures[i])));
    return events.map((e) => byEvent.get(e) ?? null);
  }

  /** A batch of new and already applied events, told apart by one read, in one transaction. */
  private async applySplit(m: EntityManager, events: DomainEvent[], invoke: HandlerInvoker): Promise<Part[]> {
    const seen = await this.recordedAmong(m, events);
    const fresh = events.filter((e) => !seen.has(e.payload.event_id));
    const stale = events.filter((e) => seen.has(e.payload.event_id));
    // A duplicate within the batch, or an event recorded since the read: one at a time instead.
    if (fresh.length > 0 && (await this.record(m, fresh)) !== fresh.length) throw new AlreadyApplied();
    const parts: Part[] = [];
    if (fresh.length > 0) parts.push(await this.run(m, fresh, invoke, true));
    if (stale.length > 0) parts.push(await this.run(m, stale, invoke, false));
    return parts;
  }

  /** Runs the events' handlers in one context; their writes flushed when the events are new, else discarded. */
  private async run(
    m: EntityManager,
    events: DomainEvent[],
    invoke: HandlerInvoker,
    fresh: boolean,
  ): Promise<Part> {
    const ctx = new ApplyContext(m);
    for (const e of events) await invoke(e, new EventContext([e, ctx]));
    if (fresh) await ctx.flushWrites();
    else ctx.discardWrites();
    return { events, ctx };
  }

  private async oneByOne(events: DomainEvent[], invoke: HandlerInvoker): Promise<(Error | null)[]> {
    const out: (Error | null)[] = [];
    for (const e of events) {
      try {
        await this.applyOne(e, invoke);
        out.push(null);
      } catch (err) {
        out.push(asError(err));
      }
    }
    return out;
  }

  /**
   * One event in its own transaction. Already applied (a redelivery, or a publish whose confirm
   * was lost and that the api then applied itself): its handlers still run, for their
   * after-commit effects (which dedupe themselves), and their writes are discarded.
   */
  private async applyOne(event: DomainEvent, invoke: HandlerInvoker): Promise<void> {
    const { ctx } = await this.db.transaction(async (m) =>
      this.run(m, [event], invoke, (await this.record(m, [event])) === 1),
    );
    const err = await ctx.runAfterCommit();
    if (err) throw err;
  }

  /**
   * `INSERT IGNORE` of every event id in one statement: how many were new. A concurrent
   * transaction inserting the same id makes this one wait for it, then count it as not new.
   */
  private async record(manager: EntityManager, events: DomainEvent[]): Promise<number> {
    const runner = manager.queryRunner;
    if (!runner) throw new Error('events are recorded inside a transaction');
    const now = nowMs();
    const verb = this.db.dialect === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE';
    const rows = events.map(() => '(?, ?, ?)').join(', ');
    const result = (await runner.query(
      `${verb} INTO processed_events (event_id, routing_key, processed_at) VALUES ${rows}`,
      events.flatMap((e) => [e.payload.event_id, e.routingKey, now]),
      true,
    )) as { affected?: number };
    return result.affected ?? 0;
  }

  /** The ids among the events' that `processed_events` already holds (a plain read). */
  private async recordedAmong(manager: EntityManager, events: DomainEvent[]): Promise<Set<string>> {
    const runner = manager.queryRunner;
    if (!runner) throw new Error('events are recorded inside a transaction');
    const rows = (await runner.query(
      `SELECT event_id FROM processed_events WHERE event_id IN (${events.map(() => '?').join(', ')})`,
      events.map((e) => e.payload.event_id),
    )) as { event_id: string }[];
    return new Set(rows.map((r) => r.event_id));
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
