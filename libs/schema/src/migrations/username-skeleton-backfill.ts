import type { QueryRunner } from 'typeorm';
import { usernameSkeleton } from '@app/account';

/**
 * Fills `accounts.username_skeleton` for existing rows (UsernameSkeleton migration, both
 * dialects), oldest account first, 1,000 rows per statement. When two existing names already
 * share a skeleton, the older account keeps it and the newer one stays NULL (it keeps its name;
 * only new names are held to the rule).
 */
export async function backfillUsernameSkeletons(queryRunner: QueryRunner): Promise<void> {
  const seen = new Set<string>();
  let after = 0;
  for (;;) {
    const rows = (await queryRunner.query(
      'SELECT id, username FROM accounts WHERE id > ? ORDER BY id LIMIT 1000',
      [after],
    )) as { id: number | string; username: string }[];
    if (rows.length === 0) return;
    after = Number(rows[rows.length - 1].id);
    const updates: [number, string][] = [];
    for (const r of rows) {
      const skeleton = usernameSkeleton(r.username);
      if (seen.has(skeleton)) continue;
      seen.add(skeleton);
      updates.push([Number(r.id), skeleton]);
    }
    if (updates.length === 0) continue;
    const cases = updates.map(() => 'WHEN ? THEN ?').join(' ');
    await queryRunner.query(
      `UPDATE accounts SET username_skeleton = CASE id ${cases} END WHERE id IN (${updates.map(() => '?').join(', ')})`,
      [...updates.flat(), ...updates.map(([id]) => id)],
    );
  }
}
