import { Logger } from '@nestjs/common';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import {
  CommitOutcomeUnknownError,
  Database,
  isConnectionError,
  isDatabaseUnavailable,
  isDeadlock,
  isDuplicateKey,
  isLockWaitTimeout,
} from './database.service';

/** A TypeORM query failure as each driver reports it: a driver error with a `code`. */
function queryFailed(code: string, extra: Record<string, unknown> = {}): QueryFailedError {
  const driverError = Object.assign(new Error(`driver says ${code}`), { code, ...extra });
  return new QueryFailedError('INSERT INTO likes ...', [1, 2], driverError);
}

/** A DataSource that only knows `transaction` and `query`, and records what happens. */
class FakeDataSource {
  readonly events: string[] = [];
  active = 0;
  maxActive = 0;
  readonly manager = { fake: 'manager' } as unknown as EntityManager;
  /** Errors the next transactions throw (before running the work), one per call. */
  readonly failures: Error[] = [];
  queryError: Error | undefined = undefined;
  /** `query` never settles (a partitioned database). */
  queryHangs = false;

  async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const failure = this.failures.shift();
    this.events.push('begin');
    if (failure !== undefined) {
      this.events.push('rollback');
      throw failure;
    }
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      return await work(this.manager);
    } finally {
      this.active--;
      this.events.push('end');
    }
  }

  /** Errors the next COMMITs throw, one per call. */
  readonly commitFailures: Error[] = [];

  /** What `Database` uses on MySQL: the same events as `transaction()`. */
  createQueryRunner(): unknown {
    let active = false;
    let counted = false;
    const leave = (): void => {
      if (counted) {
        this.active--;
        counted = false;
      }
    };
    return {
      manager: this.manager,
      get isTransactionActive() {
        return active;
      },
      startTransaction: async () => {
        this.events.push('begin');
        active = true;
        const failure = this.failures.shift();
        if (failure !== undefined) throw failure;
        this.active++;
        counted = true;
        this.maxActive = Math.max(this.maxActive, this.active);
      },
      commitTransaction: async () => {
        const failure = this.commitFailures.shift();
        if (failure !== undefined) {
          leave();
          this.events.push('commit lost');
          throw failure;
        }
        active = false;
        leave();
        this.events.push('end');
      },
      rollbackTransaction: async () => {
        active = false;
        leave();
        this.events.push('rollback');
      },
      release: async () => undefined,
      query: async (sql: string) => {
        this.events.push(`execute ${sql}`);
        const failure = this.failures.shift();
        if (failure !== undefined) throw failure;
        return { affected: 1 };
      },
    };
  }

  query(sql: string, params: unknown[] = []): Promise<unknown[]> {
    this.events.push(`query ${sql} ${JSON.stringify(params)}`);
    if (this.queryHangs) return new Promise(() => undefined);
    if (this.queryError !== undefined) return Promise.reject(this.queryError);
    return Promise.resolve([{ ok: 1 }]);
  }
}

function makeDb(type: 'sqlite' | 'mysql'): { db: Database; ds: FakeDataSource } {
  const ds = new FakeDataSource();
  const database = type === 'sqlite' ? { type, path: ':memory:' } : { type, url: 'mysql://x' };
  const config = { database } as unknown as AppConfig;
  return { db: new Database(ds as unknown as DataSource, config), ds };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('database error predicates', () => {
  describe('isDuplicateKey', () => {
    it.each(['ER_DUP_ENTRY', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY'])(
      '%s → true',
      (code) => {
        expect(isDuplicateKey(queryFailed(code))).toBe(true);
      },
    );

    it.each([
      'SQLITE_CONSTRAINT_FOREIGNKEY',
      'SQLITE_CONSTRAINT_NOTNULL',
      'ER_NO_REFERENCED_ROW_2',
      'ER_LOCK_DEADLOCK',
      'SQLITE_BUSY',
    ])('%s → false', (code) => {
      expect(isDuplicateKey(queryFailed(code))).toBe(false);
    });

    it('only trusts QueryFailedError (a plain error with the code is not a duplicate)', () => {
      expect(isDuplicateKey(Object.assign(new Error('dup'), { code: 'ER_DUP_ENTRY' }))).toBe(false);
      expect(isDuplicateKey(null)).toBe(false);
      expect(isDuplicateKey(undefined)).toBe(false);
      expect(isDuplicateKey('ER_DUP_ENTRY')).toBe(false);
    });
  });

  describe('isDeadlock', () => {
    it('MySQL ER_LOCK_DEADLOCK → true', () => {
      expect(isDeadlock(queryFailed('ER_LOCK_DEADLOCK'))).toBe(true);
    });

    it.each([
      'ER_LOCK_WAIT_TIMEOUT',
      'ER_DUP_ENTRY',
      'SQLITE_BUSY',
      'SQLITE_CONSTRAINT_UNIQUE',
      'PROTOCOL_CONNECTION_LOST',
    ])('%s → false', (code) => {
      expect(isDeadlock(queryFailed(code))).toBe(false);
    });

    it('a plain error carrying the code is not a deadlock', () => {
      expect(isDeadlock(Object.assign(new Error('x'), { code: 'ER_LOCK_DEADLOCK' }))).toBe(false);
    });
  });

  describe('isLockWaitTimeout', () => {
    it.each(['ER_LOCK_WAIT_TIMEOUT', 'SQLITE_BUSY'])(
      '%s → true, and the database counts as unavailable',
      (code) => {
        expect(isLockWaitTimeout(queryFailed(code))).toBe(true);
        expect(isDatabaseUnavailable(queryFailed(code))).toBe(true);
        expect(isConnectionError(queryFailed(code))).toBe(false);
      },
    );

    it.each(['ER_LOCK_DEADLOCK', 'ER_DUP_ENTRY'])('%s → false', (code) => {
      expect(isLockWaitTimeout(queryFailed(code))).toBe(false);
    });
  });

  describe('isConnectionError', () => {
    it.each([
      'DB_STATEMENT_TIMEOUT',
      'DB_ACQUIRE_TIMEOUT',
      'PROTOCOL_SEQUENCE_TIMEOUT',
      'ECONNREFUSED',
      'PROTOCOL_CONNECTION_LOST',
      'ETIMEDOUT',
      'ECONNRESET',
      'EPIPE',
      'ER_CON_COUNT_ERROR',
    ])('MySQL %s → true, raw or wrapped in a QueryFailedError', (code) => {
      expect(isConnectionError(queryFailed(code))).toBe(true);
      expect(isConnectionError(Object.assign(new Error(code), { code }))).toBe(true);
    });

    it('a fatal driver error → true', () => {
      expect(isConnectionError(queryFailed('ER_SOMETHING', { fatal: true }))).toBe(true);
      expect(isConnectionError(Object.assign(new Error('x'), { fatal: true }))).toBe(true);
    });

    it.each([
      'ER_DUP_ENTRY',
      'ER_LOCK_DEADLOCK',
      'ER_PARSE_ERROR',
      'SQLITE_CONSTRAINT_UNIQUE',
      'SQLITE_BUSY',
      'SQLITE_ERROR',
    ])('%s → false', (code) => {
      expect(isConnectionError(queryFailed(code))).toBe(false);
      expect(isConnectionError(queryFailed(code, { fatal: false }))).toBe(false);
    });

    it('non-objects and code-less errors → false', () => {
      expect(isConnectionError(null)).toBe(false);
      expect(isConnectionError(undefined)).toBe(false);
      expect(isConnectionError('ECONNREFUSED')).toBe(false);
      expect(isConnectionError(new Error('ECONNREFUSED'))).toBe(false);
    });
  });
});

describe('Database', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    jest.restoreAllMocks();
    jest.useRealTimers();
  });

  it('takes the dialect from the config', () => {
    expect(makeDb('sqlite').db.dialect).toBe('sqlite');
    expect(makeDb('mysql').db.dialect).toBe('mysql');
  });

  describe('SQLite', () => {
    it('serialises overlapping transactions in call order', async () => {
      jest.useFakeTimers();
      const { db, ds } = makeDb('sqlite');
      const order: string[] = [];
      const tx = (name: string, ms: number): Promise<string> =>
        db.transaction(async (manager) => {
          expect(manager).toBe(ds.manager);
          order.push(`start ${name}`);
          await sleep(ms);
          order.push(`end ${name}`);
          return name;
        });

      // The slowest first: without the mutex they would finish 3, 2, 1 and overlap.
      const all = Promise.all([tx('1', 30), tx('2', 10), tx('3', 0)]);
      await jest.advanceTimersByTimeAsync(100);
      await expect(all).resolves.toEqual(['1', '2', '3']);
      expect(order).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
      expect(ds.maxActive).toBe(1);
    });

    it('a failed transaction rejects its caller and does not block the next', async () => {
      const { db, ds } = makeDb('sqlite');
      const failing = db.transaction(async () => {
        await Promise.resolve();
        throw new Error('constraint');
      });
      const next = db.transaction(async () => 'ok');
      await expect(failing).rejects.toThrow('constraint');
      await expect(next).resolves.toBe('ok');
      expect(ds.events).toEqual(['begin', 'end', 'begin', 'end']);
    });

    it('does not retry (SQLite has no deadlocks to retry)', async () => {
      const { db, ds } = makeDb('sqlite');
      ds.failures.push(queryFailed('ER_LOCK_DEADLOCK'));
      await expect(db.transaction(async () => 'x')).rejects.toBeInstanceOf(QueryFailedError);
      expect(ds.events).toEqual(['begin', 'rollback']);
    });
  });

  describe('MySQL', () => {
    it('does not serialise transactions (the pool has many connections)', async () => {
      jest.useFakeTimers();
      const { db, ds } = makeDb('mysql');
      const all = Promise.all([db.transaction(async () => sleep(20)), db.transaction(async () => sleep(20))]);
      await jest.advanceTimersByTimeAsync(50);
      await all;
      expect(ds.maxActive).toBe(2);
    });

    it('retries a deadlock up to 3 attempts in all, pausing a few ms between them', async () => {
      const { db, ds } = makeDb('mysql');
      ds.failures.push(queryFailed('ER_LOCK_DEADLOCK'), queryFailed('ER_LOCK_DEADLOCK'));
      const work = jest.fn(async () => 'done');
      const started = Date.now();
      await expect(db.transaction(work)).resolves.toBe('done');
      expect(work).toHaveBeenCalledTimes(1);
      expect(ds.events).toEqual(['begin', 'rollback', 'begin', 'rollback', 'begin', 'end']);
      // 5–15 ms then 10–30 ms.
      expect(Date.now() - started).toBeGreaterThanOrEqual(14);
    });

    it('does not retry a lock-wait timeout (the request gets it at once)', async () => {
      const { db, ds } = makeDb('mysql');
      const wait = queryFailed('ER_LOCK_WAIT_TIMEOUT');
      ds.failures.push(wait);
      await expect(db.transaction(async () => 'never')).rejects.toBe(wait);
      expect(ds.events).toEqual(['begin', 'rollback']);
    });

    it('gives up after the third deadlock and rethrows it', async () => {
      const { db, ds } = makeDb('mysql');
      const third = queryFailed('ER_LOCK_DEADLOCK');
      ds.failures.push(queryFailed('ER_LOCK_DEADLOCK'), queryFailed('ER_LOCK_DEADLOCK'), third);
      await expect(db.transaction(async () => 'never')).rejects.toBe(third);
      expect(ds.events.filter((e) => e === 'begin')).toHaveLength(3);
    });

    it('a connection lost during COMMIT is an unknown outcome, not retried and not rolled back', async () => {
      const { db, ds } = makeDb('mysql');
      ds.commitFailures.push(
        Object.assign(new Error('timed out'), { code: 'DB_STATEMENT_TIMEOUT', fatal: true }),
      );
      const err = await db.transaction(async () => 'x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommitOutcomeUnknownError);
      expect(isConnectionError(err)).toBe(true);
      expect(ds.events).toEqual(['begin', 'commit lost']);
    });

    it('does not retry other errors', async () => {
      const { db, ds } = makeDb('mysql');
      const dup = queryFailed('ER_DUP_ENTRY');
      ds.failures.push(dup);
      await expect(db.transaction(async () => 'never')).rejects.toBe(dup);
      expect(ds.events).toEqual(['begin', 'rollback']);
    });

    it('execute: a deadlocked statement is run again, up to 3 attempts in all', async () => {
      const { db, ds } = makeDb('mysql');
      ds.failures.push(queryFailed('ER_LOCK_DEADLOCK'), queryFailed('ER_LOCK_DEADLOCK'));
      await expect(db.execute('UPDATE t SET x = 1')).resolves.toBe(1);
      expect(ds.events).toEqual(Array(3).fill('execute UPDATE t SET x = 1'));

      const third = queryFailed('ER_LOCK_DEADLOCK');
      ds.failures.push(queryFailed('ER_LOCK_DEADLOCK'), queryFailed('ER_LOCK_DEADLOCK'), third);
      await expect(db.execute('UPDATE t SET x = 2')).rejects.toBe(third);
    });

    it('execute: other errors and lock-wait timeouts are not run again', async () => {
      const { db, ds } = makeDb('mysql');
      for (const code of ['ER_DUP_ENTRY', 'ER_LOCK_WAIT_TIMEOUT']) {
        const err = queryFailed(code);
        ds.failures.push(err);
        await expect(db.execute(`INSERT ${code}`)).rejects.toBe(err);
      }
      expect(ds.events).toEqual(['execute INSERT ER_DUP_ENTRY', 'execute INSERT ER_LOCK_WAIT_TIMEOUT']);
    });
  });

  it('query passes SQL and parameters through', async () => {
    const { db, ds } = makeDb('mysql');
    await expect(db.query('SELECT ? AS ok', [1])).resolves.toEqual([{ ok: 1 }]);
    expect(ds.events).toEqual(['query SELECT ? AS ok [1]']);
  });

  it('ping answers true when SELECT 1 works and false when it throws', async () => {
    const { db, ds } = makeDb('mysql');
    await expect(db.ping()).resolves.toBe(true);
    ds.queryError = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    await expect(db.ping()).resolves.toBe(false);
  });

  it('ping answers false within its timeout when the database does not answer at all', async () => {
    const { db, ds } = makeDb('mysql');
    ds.queryHangs = true;
    const started = Date.now();
    await expect(db.ping(100)).resolves.toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
