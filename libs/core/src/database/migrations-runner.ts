import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';

const LOCK_NAME = 'feedsystem_video_migrations';

/**
 * Runs pending migrations under a database-wide lock so replicas starting together don't race
 * (MySQL: GET_LOCK on one pinned connection; SQLite: the migration transaction's write lock).
 */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const logger = new Logger('Migrations');
  if (dataSource.options.type !== 'mysql') {
    const done = await dataSource.runMigrations({ transaction: 'all' });
    if (done.length) logger.log(`applied ${done.map((m) => m.name).join(', ')}`);
    return done.map((m) => m.name);
  }
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    const [row] = (await runner.query('SELECT GET_LOCK(?, 120) AS got', [LOCK_NAME])) as { got: number }[];
    if (Number(row?.got) !== 1) throw new Error('could not take the migration lock within 120 s');
    try {
      // MySQL DDL commits implicitly, so each migration is its own unit.
      const done = await dataSource.runMigrations({ transaction: 'none' });
      if (done.length) logger.log(`applied ${done.map((m) => m.name).join(', ')}`);
      return done.map((m) => m.name);
    } finally {
      await runner.query('SELECT RELEASE_LOCK(?)', [LOCK_NAME]);
    }
  } finally {
    await runner.release();
  }
}
