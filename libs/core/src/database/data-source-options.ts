import type { DataSourceOptions, MixedList, EntitySchema } from 'typeorm';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AppConfig } from '../config/app-config';
import { boundedMysql2, boundsFor } from './bounded-mysql';
import { withReplicaRouting } from './replica-pool-cluster';
import { MAX_PREPARED_PER_CONNECTION } from './direct-reads';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type for entity classes
export type EntityList = MixedList<Function | string | EntitySchema>;
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type for migration classes
export type MigrationList = MixedList<Function | string>;

export interface SchemaDefinition {
  entities: EntityList;
  migrations: { mysql: MigrationList; sqlite: MigrationList };
}

export interface DataSourceTuning {
  /**
   * Statement deadline for this data source (ms; 0 = none). Defaults to `DB_STATEMENT_TIMEOUT_MS`;
   * migrations and the recount pass 0, since a schema change or a full recount may run long.
   */
  statementTimeoutMs?: number;
}

/** TypeORM options for the configured profile; migrations are run by {@link runMigrations}, not here. */
export function buildDataSourceOptions(
  config: AppConfig,
  schema: SchemaDefinition,
  tuning: DataSourceTuning = {},
): DataSourceOptions {
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
  const bounds = boundsFor(tuning.statementTimeoutMs ?? config.dbStatementTimeoutMs);
  // Read replicas (DATABASE_REPLICA_URLS): TypeORM then asks mysql2 for a pool cluster, whose
  // replica pools are bounded like the primary's and skipped when down or behind
  // (replica-pool-cluster.ts). Reads default to the primary; `Database.reader` opts in.
  const replicas = config.databaseReplicaUrls ?? [];
  const replication =
    replicas.length > 0
      ? {
          replication: {
            master: { url: config.database.url },
            slaves: replicas.map((url) => ({ url })),
            defaultMode: 'master' as const,
          },
        }
      : { url: config.database.url };
  return {
    ...common,
    type: 'mysql',
    // mysql2 with a deadline on every statement and pool wait (see bounded-mysql.ts).
    driver:
      replicas.length > 0
        ? withReplicaRouting(boundedMysql2(bounds), { maxLagSeconds: config.replicaMaxLagSeconds })
        : boundedMysql2(bounds),
    ...replication,
    migrations: schema.migrations.mysql,
    charset: 'utf8mb4_unicode_ci',
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: false,
    poolSize: 20,
    connectTimeout: bounds.acquireMs > 0 ? Math.min(bounds.acquireMs, 5000) : 5000,
    // trace: false: mysql2 otherwise captures a stack trace for every query (Error.captureStackTrace,
    // ~3% of the api's CPU under a like load) only to decorate the errors it may return.
    // maxPreparedStatements: the prepared reads each connection keeps (direct-reads.ts).
    extra: {
      enableKeepAlive: true,
      maxIdle: 20,
      idleTimeout: 60000,
      trace: false,
      maxPreparedStatements: MAX_PREPARED_PER_CONNECTION,
    },
  };
}
