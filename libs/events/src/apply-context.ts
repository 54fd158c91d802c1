import type { EntityManager } from 'typeorm';

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
   * the first failure, or null.
   */
  async runAfterCommit(): Promise<Error | null> {
    const effects = [...this.effects.values()];
    this.effects.clear();
    const results = await Promise.allSettled(effects.map((e) => e.run()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return null;
    return failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  }
}
