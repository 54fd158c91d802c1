import type { DataSourceOptions, MixedList, EntitySchema } from 'typeorm';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AppConfig } from '../config/app-config';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type for entity classes
export type EntityList = MixedList<Function | string | EntitySchema>;
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type for migration classes
export type MigrationList = MixedList<Function | string>;

export interface SchemaDefinition {
  entities: EntityList;
  migrations: { mysql: MigrationList; sqlite: MigrationList };
}

/** TypeORM options for the configured profile; migrations are run by {@link runMigrations}, not here. */
export function buildDataSourceOptions(config: AppConfig, schema: SchemaDefinition): DataSourceOptions {
  const common = {
    entities: schema.entities,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: 'migrations',
    // Failed queries reach the caller, which decides: a duplicate key is a 409, a deadlock is
    // retried, anything else is logged once with an error id by the HTTP filter or the consumer.
    logging: false,
  };
  if (config.database.type === 'sqlite') {
    mkdirSync(dirname(config.database.path), { recursive: true });
    return {
      ...common,
      type: 'better-sqlite3',
      database: config.database.path,
      migrations: schema.migrations.sqlite,
      enableWAL: true,
      prepareDatabase: (db: { pragma: (s: string) => unknown }) => {
        db.pragma('busy_timeout = 5000');
        db.pragma('synchronous = NORMAL');
        db.pragma('foreign_keys = OFF');
      },
    };
  }
  return {
    ...common,
    type: 'mysql',
    url: config.database.url,
    migrations: schema.migrations.mysql,
    charset: 'utf8mb4_unicode_ci',
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: false,
    poolSize: 20,
    connectTimeout: 5000,
    // trace: false: mysql2 otherwise captures a stack trace for every query (Error.captureStackTrace,
    // ~3% of the api's CPU under a like load) only to decorate the errors it may return.
    extra: { enableKeepAlive: true, maxIdle: 20, idleTimeout: 60000, trace: false },
  };
}
