import type { EntityManager, QueryRunner } from 'typeorm';
import type { Dialect } from './database.service';

/**
 * Runs one write statement and returns the rows it changed, in both dialects (TypeORM's
 * structured result carries `affected`). Needs the caller's transaction (its query runner).
 */
export async function affectedRows(
  on: EntityManager | QueryRunner,
  sql: string,
  params: unknown[] = [],
): Promise<number> {
  const runner = 'queryRunner' in on ? on.queryRunner : on;
  if (!runner) throw new Error('affectedRows must run inside a transaction');
  const result = (await runner.query(sql, params, true)) as { affected?: number };
  return result.affected ?? 0;
}

/**
 * The locking suffix of a `SELECT` inside a transaction. SQLite transactions are already
 * serialised, so only MySQL/MariaDB get one; `LOCK IN SHARE MODE` is the shared-lock spelling
 * both MySQL 8 and MariaDB accept (MariaDB has no `FOR SHARE`).
 */
export function lockClause(dialect: Dialect, mode: 'update' | 'share'): string {
  if (dialect === 'sqlite') return '';
  return mode === 'update' ? ' FOR UPDATE' : ' LOCK IN SHARE MODE';
}

/** `?, ?, …` for `n` parameters. */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

/**
 * Counter deltas for the rows of one table, summed per row and written as ONE statement:
 * `UPDATE t SET c = c + CASE id WHEN ? THEN ? … ELSE 0 END, … WHERE id IN (…)`, rows in id
 * order, so two batches never lock the same rows in different orders. A batch of events that
 * each move a counter by one costs one round trip instead of one per event.
 */
export class CounterBatch<C extends string> {
  private readonly deltas = new Map<number, Map<C, number>>();

  constructor(
    private readonly table: string,
    private readonly columns: readonly C[],
  ) {}

  add(id: number, column: C, delta: number): void {
    if (!Number.isInteger(delta)) throw new Error(`counter delta must be an integer, got ${delta}`);
    if (!this.columns.includes(column)) throw new Error(`${this.table} has no counter ${column}`);
    let row = this.deltas.get(id);
    if (!row) this.deltas.set(id, (row = new Map<C, number>()));
    row.set(column, (row.get(column) ?? 0) + delta);
  }

  get isEmpty(): boolean {
    return this.deltas.size === 0;
  }

  async flush(manager: EntityManager): Promise<void> {
    const changed = (id: number, c: C): boolean => (this.deltas.get(id)?.get(c) ?? 0) !== 0;
    const ids = [...this.deltas.keys()].filter((id) => this.columns.some((c) => changed(id, c)));
    ids.sort((a, b) => a - b);
    const sets: string[] = [];
    const params: number[] = [];
    for (const column of this.columns) {
      const rows = ids.filter((id) => changed(id, column));
      if (rows.length === 0) continue;
      sets.push(`${column} = ${column} + CASE id ${rows.map(() => 'WHEN ? THEN ?').join(' ')} ELSE 0 END`);
      for (const id of rows) params.push(id, this.deltas.get(id)!.get(column)!);
    }
    this.deltas.clear();
    if (sets.length === 0) return;
    await manager.query(
      `UPDATE ${this.table} SET ${sets.join(', ')} WHERE id IN (${placeholders(ids.length)})`,
      [...params, ...ids],
    );
  }
}
