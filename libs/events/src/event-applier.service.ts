import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Database, isConnectionError, nowMs } from '@app/core';
import { ApplyContext } from './apply-context';
import { EventContext } from './event-context';
import { EventHandlers } from './event-handlers';
import type { DomainEvent } from './events';

/** Runs an event's handlers with its context: directly, or through Nest's microservice pipeline. */
export type HandlerInvoker = (event: DomainEvent, ctx: EventContext) => Promise<void>;

/** Some events of a batch were applied before: the batch is redone one event at a time. */
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
   * All events in one transaction: one multi-row insert into `processed_events`, every handler,
   * the writes they deferred (one statement per kind for the whole batch), commit, then the
   * after-commit effects once. If the shared transaction fails because an event was applied
   * before, or one event's handler fails, each event is applied alone, so one bad event cannot
   * hold back the others nor be counted twice. An unreachable database fails them all at once.
   */
  private async applyBatch(events: DomainEvent[], invoke: HandlerInvoker): Promise<(Error | null)[]> {
    if (events.length === 0) return [];
    if (events.length > 1) {
      let ctx: ApplyContext;
      try {
        ctx = await this.db.transaction(async (m) => {
          const c = new ApplyContext(m);
          if ((await this.record(m, events)) !== events.length) throw new AlreadyApplied();
          for (const e of events) await invoke(e, new EventContext([e, c]));
          await c.flushWrites();
          return c;
        });
      } catch (err) {
        if (isConnectionError(err)) return events.map(() => asError(err));
        return this.oneByOne(events, invoke);
      }
      const err = await ctx.runAfterCommit();
      return events.map(() => err);
    }
    return this.oneByOne(events, invoke);
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
    const ctx = await this.db.transaction(async (m) => {
      const c = new ApplyContext(m);
      const fresh = (await this.record(m, [event])) === 1;
      await invoke(event, new EventContext([event, c]));
      if (fresh) await c.flushWrites();
      else c.discardWrites();
      return c;
    });
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
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
