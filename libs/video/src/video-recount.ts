import type { EntityManager } from 'typeorm';

/** Runs an UPDATE and returns the rows it changed, in both dialects. */
export async function affectedRows(
  manager: EntityManager,
  sql: string,
  params: unknown[] = [],
): Promise<number> {
  const runner = manager.queryRunner;
  if (!runner) throw new Error('recount must run inside a transaction');
  const result = await runner.query(sql, params, true);
  return result.affected ?? 0;
}

/** `popularity = likes_count + comments_count`; run after those two are exact. Rows fixed. */
export function recountPopularity(manager: EntityManager): Promise<number> {
  return affectedRows(
    manager,
    'UPDATE videos SET popularity = likes_count + comments_count WHERE popularity <> likes_count + comments_count',
  );
}
