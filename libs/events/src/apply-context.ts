import type { EntityManager } from 'typeorm';

/** Work a handler defers to the end of the transaction, merged across the events applied in it. */
export interface DeferredWrite {
  flush(manager: EntityManager): Promise<void>;
}

/**
 * One transaction's worth of event applications. Handlers that would each run a statement per
 * event (a counter `+ 1` on the same table) instead add to a shared {@link DeferredWrite}, which
 * runs once, before commit, as one statement for the whole batch: fewer round trips, and row
 * locks taken in one statement in key order, so concurrent batches cannot deadlock on them.
 */
export class ApplyContext {
  private readonly deferred = new Map<string, DeferredWrite>();

  /** The deferred write registered under `key` in this transaction, created on first use. */
  defer<D extends DeferredWrite>(key: string, create: () => D): D {
    let d = this.deferred.get(key);
    if (!d) {
      d = create();
      this.deferred.set(key, d);
    }
    return d as D;
  }

  /** Runs every deferred write, in the order they were first used. */
  async flush(manager: EntityManager): Promise<void> {
    for (const d of this.deferred.values()) await d.flush(manager);
    this.deferred.clear();
  }
}
