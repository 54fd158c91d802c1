/**
 * Writes a new migration per dialect with the SQL that brings a database at the current
 * migrations up to the entities: `npm run migration:generate -- <PascalCaseName>`, then list
 * the two new classes in libs/schema/src/migrations/index.ts.
 * Needs MariaDB at MYSQL_ADMIN_URL (default mysql://root@127.0.0.1:3306) for the mysql set.
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, loadConfig, runMigrations } from '@app/core';
import { SCHEMA } from '@app/schema';

async function generate(dialect: 'mysql' | 'sqlite', name: string, ts: number): Promise<void> {
  const admin = process.env.MYSQL_ADMIN_URL ?? 'mysql://root@127.0.0.1:3306';
  const db = `gen_${ts}`;
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    JWT_SECRET: 'x'.repeat(32),
    DATA_DIR: `/tmp/${db}`,
  };
  if (dialect === 'mysql') {
    const c = await createConnection(admin);
    await c.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await c.end();
    env.DATABASE_URL = `${admin}/${db}`;
  }
  const ds = new DataSource(buildDataSourceOptions(loadConfig(env), SCHEMA, { statementTimeoutMs: 0 }));
  await ds.initialize();
  try {
    await runMigrations(ds);
    const sql = await ds.driver.createSchemaBuilder().log();
    if (sql.upQueries.length === 0) {
      console.log(`${dialect}: no changes`);
      return;
    }
    const cls = `${name}${ts}`;
    const q = (s: string): string =>
      '`' + s.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${') + '`';
    let up = sql.upQueries.map((x) => x.query);
    if (dialect === 'mysql') {
      up = up.map((s) =>
        s
          .replace(/ENGINE=InnoDB$/, 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci')
          .replace(
            '`username_key` varchar(64) NOT NULL',
            '`username_key` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL',
          ),
      );
    }
    const down = sql.downQueries.map((x) => x.query).reverse();
    const body = `import { MigrationInterface, QueryRunner } from 'typeorm';

export class ${cls} implements MigrationInterface {
  name = '${cls}';

  async up(queryRunner: QueryRunner): Promise<void> {
${up.map((s) => `    await queryRunner.query(${q(s)});`).join('\n')}
  }

  async down(queryRunner: QueryRunner): Promise<void> {
${down.map((s) => `    await queryRunner.query(${q(s)});`).join('\n')}
  }
}
`;
    const file = join(process.cwd(), 'libs', 'schema', 'src', 'migrations', dialect, `${ts}-${name}.ts`);
    writeFileSync(file, body);
    console.log(`${dialect}: wrote ${file} (class ${cls})`);
  } finally {
    await ds.destroy();
    if (dialect === 'mysql') {
      const c = await createConnection(admin);
      await c.query(`DROP DATABASE \`${db}\``);
      await c.end();
    }
  }
}

async function main(): Promise<void> {
  const name = process.argv[2];
  if (!name || !/^[A-Z][A-Za-z0-9]*$/.test(name))
    throw new Error('usage: generate-migration <PascalCaseName>');
  const ts = Date.now();
  await generate('sqlite', name, ts);
  await generate('mysql', name, ts);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
