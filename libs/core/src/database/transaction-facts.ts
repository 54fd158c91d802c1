import type { EntityManager } from 'typeorm';

/**
 * Facts one transaction has read about rows it holds locked (an id's value of a column that never
 * changes, say), kept by the transaction's `EntityManager` for its later statements, another
 * module's deferred write among them, to use instead of reading the rows again: one round trip
 * less per fact, which under load is one wait for the event loop less. A fact must stay true for
 * as long as the transaction runs (the row is locked, or the column never changes); a retried
 * attempt notes what it reads again. Forgotten with the manager (a `WeakMap`), so nothing outlives
 * its transaction and one instance serves every transaction of every app in the process.
 */
export class TransactionFacts<V> {
  private readonly byTransaction = new WeakMap<EntityManager, Map<number, V>>();

  note(manager: EntityManager, id: number, value: V): void {
    let facts = this.byTransaction.get(manager);
    if (!facts) this.byTransaction.set(manager, (facts = new Map<number, V>()));
    facts.set(id, value);
  }

  get(manager: EntityManager, id: number): V | undefined {
    return this.byTransaction.get(manager)?.get(id);
  }
}
