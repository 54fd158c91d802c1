import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';

export type Dialect = 'mysql' | 'sqlite';

/** A tiny FIFO mutex: SQLite has one connection, so its transactions must not interleave. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/**
 * The one way to write. `transaction()` serialises transactions on SQLite (one shared
 * connection: TypeORM would otherwise interleave them) and retries MySQL deadlocks.
 * Every write must happen inside `transaction()`; reads may use repositories directly.
 */
@Injectable()
export class Database {
  private readonly logger = new Logger(Database.name);
  private readonly sqliteMutex = new Mutex();
  readonly dialect: Dialect;

  constructor(
    @InjectDataSource() readonly dataSource: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.dialect = config.database.type;
  }

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (this.dialect === 'sqlite') {
      return this.sqliteMutex.run(() => this.dataSource.transaction(work));
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.dataSource.transaction(work);
      } catch (err) {
        if (attempt < 3 && isDeadlock(err)) {
          this.logger.warn(`deadlock, retrying transaction (attempt ${attempt})`);
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * One raw write statement on its own (autocommit: one round trip, no BEGIN/COMMIT); on SQLite
   * inside the transaction mutex, so it never lands in another caller's open transaction.
   * Returns the rows it changed.
   */
  async execute(sql: string, params: unknown[] = []): Promise<number> {
    const run = async (): Promise<number> => {
      const runner = this.dataSource.createQueryRunner();
      try {
        const result = (await runner.query(sql, params, true)) as { affected?: number };
        return result.affected ?? 0;
      } finally {
        await runner.release();
      }
    };
    return this.dialect === 'sqlite' ? this.sqliteMutex.run(run) : run();
  }

  /** Raw SQL read with `?` placeholders (both dialects accept them). */
  query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.dataSource.query(sql, params);
  }

  /** True when the database answers a trivial query (for /healthz). */
  async ping(): Promise<boolean> {
    try {
      await this.dataSource.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }
}

function driverCode(err: unknown): string | undefined {
  if (!(err instanceof QueryFailedError)) return undefined;
  const e = err.driverError as { code?: string } | undefined;
  return e?.code;
}

/** Unique-key violation in either dialect. */
export function isDuplicateKey(err: unknown): boolean {
  const code = driverCode(err);
  return (
    code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

export function isDeadlock(err: unknown): boolean {
  const code = driverCode(err);
  return code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT';
}

/** The database is unreachable (connection refused, lost, pool closed). */
export function isConnectionError(err: unknown): boolean {
  const e = (err instanceof QueryFailedError ? err.driverError : err) as {
    code?: string;
    fatal?: boolean;
  } | null;
  if (!e || typeof e !== 'object') return false;
  return (
    e.fatal === true ||
    [
      'ECONNREFUSED',
      'PROTOCOL_CONNECTION_LOST',
      'ETIMEDOUT',
      'ECONNRESET',
      'EPIPE',
      'ER_CON_COUNT_ERROR',
    ].includes(e.code ?? '')
  );
}
