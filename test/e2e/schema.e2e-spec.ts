import { DataSource, DataSourceOptions } from 'typeorm';
import { buildDataSourceOptions, loadConfig } from '@app/core';
import { SCHEMA } from '@app/schema';
import { migrate } from '../../apps/api/src/app.factory';
import { createTestEnv, PROFILES } from '../helpers/test-env';

describe.each(PROFILES)('schema (%s)', (profile) => {
  it('after migrating, the entities need no further change (no pending up-queries)', async () => {
    const env = await createTestEnv(profile, { redis: false });
    try {
      const config = loadConfig(env.env);
      const applied = await migrate(config);
      expect(applied.length).toBeGreaterThan(0);
      let options: DataSourceOptions = buildDataSourceOptions(config, SCHEMA);
      if (options.type === 'mysql' && (await isMariaDb(options))) {
        // TypeORM reads MariaDB's information_schema (COLUMN_DEFAULT 'NULL') right only as 'mariadb'.
        options = { ...options, type: 'mariadb' };
      }
      const ds = new DataSource(options);
      await ds.initialize();
      try {
        const log = await ds.driver.createSchemaBuilder().log();
        expect(log.upQueries.map((q) => q.query)).toEqual([]);
        const tables = await ds.query<{ name: string }[]>(
          profile === 'full'
            ? 'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()'
            : "SELECT name FROM sqlite_master WHERE type = 'table'",
        );
        expect(tables.map((r) => r.name)).toEqual(expect.arrayContaining(['accounts', 'videos', 'uploads']));
      } finally {
        await ds.destroy();
      }
      expect(await migrate(config)).toEqual([]);
    } finally {
      await env.cleanup();
    }
  });
});

async function isMariaDb(options: DataSourceOptions): Promise<boolean> {
  const probe = new DataSource({ ...options, entities: [], migrations: [] });
  await probe.initialize();
  try {
    const [row] = await probe.query<{ v: string }[]>('SELECT VERSION() AS v');
    return /mariadb/i.test(row.v);
  } finally {
    await probe.destroy();
  }
}
