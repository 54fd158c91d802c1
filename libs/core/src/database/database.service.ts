import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { sleep } from '../time/clock';
import { ACQUIRE_TIMEOUT, STATEMENT_TIMEOUT } from './bounded-mysql';
import { directReads } from './direct-reads';
import { inReplicaRead, noteWrite, outsideReplicaRead, ReadRouting, ReplicaReader } from './read-routing';
import { ReplicaPoolCluster, replicaCheckIntervalMs, type ReplicaStatus } from './replica-pool-cluster';

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
  /** Read-replica routing (`DATABASE_REPLICA_URLS`): who reads the primary, and for how long after a write. */
  readonly reads: ReadRouting;
  /**
   * The reads that may be stale — feeds, lists, details — say so by going through here: a replica
   * when one is configured, current and allowed for this request (see {@link ReadRouting}), else
   * the primary. Everything else (`manager`, `query`, transactions) is the primary.
   */
  readonly reader: ReplicaReader;

  constructor(
    @InjectDataSource() readonly dataSource: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.dialect = config.database.type;
    const lag = config.replicaMaxLagSeconds ?? 5;
    const replicas = this.dialect === 'mysql' ? (config.databaseReplicaUrls?.length ?? 0) : 0;
    this.reads = new ReadRouting(replicas, lag, replicaCheckIntervalMs(lag));
    this.reader = new ReplicaReader(this.reads, (sql, params) => this.query(sql, params));
  }

  /** Each read replica's state (empty without replicas). */
  replicaStatus(): ReplicaStatus[] {
    const cluster = (this.dataSource.driver as { poolCluster?: unknown }).poolCluster;
    return cluster instanceof ReplicaPoolCluster ? cluster.status() : [];
  }

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  /**
   * Runs `work` in a transaction. A MySQL deadlock (the victim was rolled back) is tried up to
   * 3 times in all, after a short jittered pause, so contenders do not collide again in step. A
   * lock-wait timeout is not retried: the session's lock wait is already bounded (see
   * {@link boundsFor}) and a retry would double a request's latency; it reaches the caller as
   * {@link isDatabaseUnavailable} (503 at the api, a later retry in the worker).
   */
  async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    noteWrite();
    if (inReplicaRead()) return outsideReplicaRead(() => this.transaction(work));
    if (this.dialect === 'sqlite') {
      return this.sqliteMutex.run(() => this.dataSource.transaction(work));
    }
    return this.retryingDeadlocks('transaction', () => this.mysqlTransaction(work));
  }

  /**
   * `run`, run again after a MySQL deadlock (its victim was rolled back whole) up to
   * {@link DEADLOCK_ATTEMPTS} times in all, after a short jittered pause so contenders do not
   * collide again in step.
   */
  private async retryingDeadlocks<T>(what: string, run: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (err) {
        if (attempt < DEADLOCK_ATTEMPTS && isDeadlock(err)) {
          const pause = deadlockPauseMs(attempt);
          this.logger.warn(`deadlock, retrying the ${what} in ${pause} ms (attempt ${attempt})`);
          await sleep(pause);
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * TypeORM's transaction, with one distinction it does not make: the database stopping to answer
   * during COMMIT leaves the outcome unknown (the commit may have been applied, its answer lost), so
   * that is a {@link CommitOutcomeUnknownError}, not a plain connection error (after which nothing
   * was written: the server rolls back a transaction whose connection is gone).
   */
  private async mysqlTransaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.startTransaction();
      const result = await work(runner.manager);
      try {
        await runner.commitTransaction();
      } catch (err) {
        if (isConnectionError(err)) throw new CommitOutcomeUnknownError(err);
        throw err;
      }
      return result;
    } catch (err) {
      if (runner.isTransactionActive && !(err instanceof CommitOutcomeUnknownError)) {
        await runner.rollbackTransaction().catch(() => undefined);
      }
      throw err;
    } finally {
      await runner.release().catch(() => undefined);
    }
  }

  /**
   * One raw write statement on its own (autocommit: one round trip, no BEGIN/COMMIT); on SQLite
   * inside the transaction mutex, so it never lands in another caller's open transaction.
   * Returns the rows it changed. A MySQL deadlock is retried as in {@link transaction} (the
   * statement was rolled back, so running it again cannot apply it twice).
   */
  async execute(sql: string, params: unknown[] = []): Promise<number> {
    noteWrite();
    if (inReplicaRead()) return outsideReplicaRead(() => this.execute(sql, params));
    const run = async (): Promise<number> => {
      const runner = this.dataSource.createQueryRunner();
      try {
        const result = (await runner.query(sql, params, true)) as { affected?: number };
        return result.affected ?? 0;
      } finally {
        await runner.release();
      }
    };
    return this.dialect === 'sqlite' ? this.sqliteMutex.run(run) : this.retryingDeadlocks('statement', run);
  }

  /**
   * Raw SQL read with `?` placeholders (both dialects accept them). On MySQL straight on the
   * pool, a `SELECT` as a prepared statement ({@link directReads}); on SQLite TypeORM's query.
   */
  query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    if (this.direct === undefined) {
      this.direct = this.dialect === 'mysql' ? (directReads(this.dataSource) ?? null) : null;
    }
    return this.direct ? this.direct<T>(sql, params) : this.dataSource.query(sql, params);
  }

  /** {@link directReads} once the pool exists; null = TypeORM's query (SQLite, a test double). */
  private direct: (<T>(sql: string, params: unknown[]) => Promise<T[]>) | null | undefined;

  /**
   * True when the database answers a trivial query within `timeoutMs` (for /healthz and the
   * worker's probes): a partitioned database is reported down in bounded time.
   */
  async ping(timeoutMs = PING_TIMEOUT_MS): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.dataSource.query('SELECT 1').then(() => true as const), deadline]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Resolves once the database answers again, probing with capped exponential backoff
   * (100 ms … 5 s); resolves false early if `stopped()` becomes true. For background loops (the
   * worker's consumers, the outbox relay, the housekeeper) that must wait out an outage.
   */
  async waitUntilReachable(stopped: () => boolean = () => false): Promise<boolean> {
    for (let attempt = 0; !stopped(); attempt++) {
      if (await this.ping()) return true;
      await sleep(Math.min(100 * 2 ** attempt, 5000) * (0.8 + Math.random() * 0.4));
    }
    return false;
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

/** MySQL chose this transaction as a deadlock victim (and rolled it back): safe to retry. */
export function isDeadlock(err: unknown): boolean {
  return driverCode(err) === 'ER_LOCK_DEADLOCK';
}

/** A lock was not granted in time (MySQL's lock wait, SQLite's busy timeout). */
export function isLockWaitTimeout(err: unknown): boolean {
  const code = driverCode(err);
  return code === 'ER_LOCK_WAIT_TIMEOUT' || code === 'SQLITE_BUSY';
}

/** Lock contention that outlived its retries: no fault of the request or message. */
export function isLockContention(err: unknown): boolean {
  return isDeadlock(err) || isLockWaitTimeout(err);
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  STATEMENT_TIMEOUT,
  ACQUIRE_TIMEOUT,
]);

/** The database is unreachable or did not answer in time (refused, lost, partitioned, pool closed). */
export function isConnectionError(err: unknown): boolean {
  const e = (err instanceof QueryFailedError ? err.driverError : err) as {
    code?: string;
    fatal?: boolean;
    message?: string;
  } | null;
  if (!e || typeof e !== 'object') return false;
  return (
    e.fatal === true ||
    CONNECTION_CODES.has(e.code ?? '') ||
    e.message === 'Pool is closed.' ||
    /closed state/.test(e.message ?? '')
  );
}

/**
 * The database stopped answering while a COMMIT was in flight: the transaction may or may not be
 * durable. Callers must treat the write as unknown (retry it: writes are idempotent or keyed).
 */
export class CommitOutcomeUnknownError extends Error {
  readonly fatal = true;
  readonly code = 'DB_COMMIT_OUTCOME_UNKNOWN';
  constructor(override readonly cause: unknown) {
    super(`the database stopped answering during COMMIT: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'CommitOutcomeUnknownError';
  }
}

/** Not the caller's fault and worth retrying later: unreachable, timed out, or lock contention. */
export function isDatabaseUnavailable(err: unknown): boolean {
  return isConnectionError(err) || isLockContention(err);
}

/** Attempts per transaction when it is a deadlock victim, and the pause before each retry (jittered, growing). */
const DEADLOCK_ATTEMPTS = 3;
function deadlockPauseMs(attempt: number): number {
  const base = 5 * 2 ** (attempt - 1);
  return Math.round(base + Math.random() * base * 2);
}

const PING_TIMEOUT_MS = 1000;
