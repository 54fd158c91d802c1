import type { EntityManager } from 'typeorm';
import { DependencyUnavailableError } from '@app/core';

/**
 * An after-commit effect whose dependency is unavailable, and which can wait on its own in `queue`
 * (an effects-only queue whose lane runs the same effect): the worker hands the event over to that
 * queue and acks it here, instead of retrying it whole; its writes are committed. Anywhere else it
 * is a {@link DependencyUnavailableError} (wait and retry).
 */
export class HandOff extends DependencyUnavailableError {
  constructor(
    readonly queue: string,
    dependency: DependencyUnavailableError['dependency'],
    message: string,
  ) {
    super(dependency, message);
    this.name = 'HandOff';
  }
}

/** A write a handler defers to the end of the transaction, merged across the events applied in it. */
export interface DeferredWrite {
  flush(manager: EntityManager): Promise<void>;
}

/** Work after commit (cache invalidation, Redis buckets, live notifications), merged per transaction. It must be idempotent. */
export interface AfterCommitEffect {
  run(): Promise<void>;
}

/**
 * The transaction that applies one or more events (a consumer's micro-batch, an api fallback, the
 * source transaction without a broker). Handlers never write through `manager` themselves: they
 * add to a {@link DeferredWrite} (`defer`), which runs once for the whole batch before commit — a
 * counter `+ 1` per event becomes one statement, rows locked in one order — and to an
 * {@link AfterCommitEffect} (`afterCommit`), which runs once after commit. Reads through `manager`
 * are fine. Because writes are deferred, an event found already applied can still be run through
 * its handlers for their after-commit effects, with its writes discarded.
 */
export class ApplyContext {
  private readonly writes = new Map<string, DeferredWrite>();
  private readonly effects = new Map<string, AfterCommitEffect>();

  constructor(readonly manager: EntityManager) {}

  /** The deferred write registered under `key` in this transaction, created on first use. */
  defer<D extends DeferredWrite>(key: string, create: () => D): D {
    let d = this.writes.get(key);
    if (!d) this.writes.set(key, (d = create()));
    return d as D;
  }

  /** The after-commit effect registered under `key`, created on first use. */
  afterCommit<E extends AfterCommitEffect>(key: string, create: () => E): E {
    let e = this.effects.get(key);
    if (!e) this.effects.set(key, (e = create()));
    return e as E;
  }

  /** Runs every deferred write, in the order they were first used (before commit). */
  async flushWrites(): Promise<void> {
    for (const d of this.writes.values()) await d.flush(this.manager);
    this.writes.clear();
  }

  /** Whether a handler deferred a write that has not been flushed or discarded. */
  get hasWrites(): boolean {
    return this.writes.size > 0;
  }

  /** Drops the deferred writes (the events were applied before). */
  discardWrites(): void {
    this.writes.clear();
  }

  /**
   * Runs every after-commit effect, all of them at once (an effect whose change needs a signal
   * after it carries that signal itself, as the detail marks carry the video-list generation);
   * the first failure, or null. A {@link HandOff} only when every failure is one to that queue: a
   * hand-over carries the event to a lane that runs only that effect.
   */
  async runAfterCommit(): Promise<Error | null> {
    const effects = [...this.effects.values()];
    this.effects.clear();
    const results = await Promise.allSettled(effects.map((e) => e.run()));
    const failures = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => (r.reason instanceof Error ? r.reason : new Error(String(r.reason))));
    if (failures.length === 0) return null;
    const first = failures[0];
    const handOff = first instanceof HandOff ? first.queue : undefined;
    if (failures.every((f) => f instanceof HandOff && f.queue === handOff)) return first;
    const other = failures.find((f) => !(f instanceof HandOff)) ?? first;
    // Several hand-overs to different queues: none can carry the event alone; wait and retry it whole.
    return other instanceof HandOff ? new DependencyUnavailableError(other.dependency, other.message) : other;
  }
}
