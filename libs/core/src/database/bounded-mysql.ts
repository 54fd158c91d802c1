import * as mysql2 from 'mysql2';

/** Time limits on every MySQL call of one data source (0 = unlimited). */
export interface MysqlBounds {
  /** Most one statement may run before its connection is destroyed and the caller gets an error. */
  statementMs: number;
  /** Most a caller waits for a pool connection (a new one included). */
  acquireMs: number;
  /** `innodb_lock_wait_timeout` of each session, in whole seconds (below `statementMs`). */
  lockWaitSeconds: number;
}

/** Derives the bounds from one statement budget: acquire ⅔ of it, lock waits ⅔ (≥ 1 s). */
export function boundsFor(statementMs: number): MysqlBounds {
  if (statementMs <= 0) return { statementMs: 0, acquireMs: 0, lockWaitSeconds: 0 };
  return {
    statementMs,
    acquireMs: Math.max(500, Math.round((statementMs * 2) / 3)),
    lockWaitSeconds: Math.max(1, Math.floor((statementMs * 2) / 3000)),
  };
}

/** Error codes this module gives the caller; {@link isConnectionError} treats them as "database down". */
export const STATEMENT_TIMEOUT = 'DB_STATEMENT_TIMEOUT';
export const ACQUIRE_TIMEOUT = 'DB_ACQUIRE_TIMEOUT';

function timeoutError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, fatal: true });
}

type Callback = (err: Error | null, ...rest: unknown[]) => void;
type QueryFn = (this: mysql2.Connection, ...args: unknown[]) => unknown;

/** What {@link guard} needs of a mysql2 connection. */
export interface Guardable {
  query: QueryFn;
  execute?: QueryFn;
  destroy(): void;
  release?(): void;
  stream?: { destroy?(): void };
}

const GUARDED = Symbol('boundedMysql');

interface Deadline {
  at: number;
  expire: () => void;
}

/**
 * Every pending deadline of the process on one coarse timer: a statement or an acquire adds an
 * entry and removes it when it answers, and one sweep every {@link DEADLINE_TICK_MS} expires the
 * overdue ones. One `setTimeout`/`clearTimeout` pair per statement cost ~15 µs of CPU per request
 * (measured); a deadline may now fire up to one tick late.
 */
const DEADLINE_TICK_MS = 100;
const deadlines = new Set<Deadline>();
let sweeper: NodeJS.Timeout | null = null;

function sweep(): void {
  const now = Date.now();
  for (const d of deadlines) {
    if (d.at > now) continue;
    deadlines.delete(d);
    try {
      d.expire();
    } catch (err) {
      // A caller's callback threw: surface it as its own timer would have, and sweep on.
      process.nextTick(() => {
        throw err;
      });
    }
  }
  if (deadlines.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = null;
  }
}

function addDeadline(ms: number, expire: () => void): Deadline {
  const d = { at: Date.now() + ms, expire };
  deadlines.add(d);
  if (!sweeper) {
    sweeper = setInterval(sweep, DEADLINE_TICK_MS);
    sweeper.unref();
  }
  return d;
}

/**
 * Gives every statement of this connection (`query`, and `execute`: a prepared statement) a
 * deadline. mysql2's own `timeout` reports the error but keeps the connection (and the stuck
 * command at the head of its queue), and `destroy()` never calls the in-flight command back, so
 * on a partition (the socket open, nothing flowing) a pool would fill with hung connections. Here
 * the deadline answers the caller with an error, then drops the connection (out of the pool,
 * socket destroyed); a late reply is ignored.
 */
export function guard(conn: Guardable, statementMs: number): void {
  const tagged = conn as Guardable & { [GUARDED]?: true };
  if (tagged[GUARDED] || statementMs <= 0) return;
  tagged[GUARDED] = true;
  for (const method of ['query', 'execute'] as const) {
    const original = conn[method];
    if (typeof original !== 'function') continue;
    conn[method] = function (this: mysql2.Connection, ...args: unknown[]): unknown {
      const i = args.findIndex((a) => typeof a === 'function');
      if (i < 0) return original.apply(this, args);
      const callback = args[i] as Callback;
      let done = false;
      const deadline = addDeadline(statementMs, () => {
        done = true;
        // Out of the pool before the caller hears of it: a caller that releases the connection in
        // its callback must not hand a dying connection to the next one waiting for the pool.
        conn.destroy();
        conn.stream?.destroy?.();
        callback(timeoutError(STATEMENT_TIMEOUT, `database statement timed out after ${statementMs} ms`));
      });
      args[i] = (err: Error | null, ...rest: unknown[]): void => {
        if (done) return;
        done = true;
        deadlines.delete(deadline);
        callback(err, ...rest);
      };
      try {
        return original.apply(this, args);
      } catch (err) {
        // mysql2 refused the call synchronously (a parameter it cannot bind): no statement runs.
        done = true;
        deadlines.delete(deadline);
        throw err;
      }
    };
  }
}

/** `pool.getConnection` with a deadline; a connection that arrives after it goes back to the pool. */
function boundPool(pool: mysql2.Pool, bounds: MysqlBounds): mysql2.Pool {
  const getConnection = pool.getConnection.bind(pool) as (cb: Callback) => void;
  if (bounds.lockWaitSeconds > 0) {
    pool.on('connection', (conn: mysql2.PoolConnection) => {
      conn.query(`SET SESSION innodb_lock_wait_timeout = ${bounds.lockWaitSeconds}`, () => undefined);
    });
  }
  (pool as unknown as { getConnection: (cb: Callback) => void }).getConnection = (cb: Callback): void => {
    let settled = false;
    const deadline =
      bounds.acquireMs > 0
        ? addDeadline(bounds.acquireMs, () => {
            settled = true;
            cb(timeoutError(ACQUIRE_TIMEOUT, `no database connection within ${bounds.acquireMs} ms`));
          })
        : undefined;
    getConnection((err, conn) => {
      const connection = conn as (Guardable & { release(): void }) | undefined;
      if (settled) {
        connection?.release();
        return;
      }
      settled = true;
      if (deadline) deadlines.delete(deadline);
      if (err || !connection) return cb(err ?? new Error('no connection'));
      guard(connection, bounds.statementMs);
      cb(null, connection);
    });
  };
  return pool;
}

/**
 * The `mysql2` module as TypeORM's `driver` option, with {@link MysqlBounds} on every pool it
 * creates: a deadline per statement, per pool-connection wait, and on lock waits. So a database
 * that stops answering (a partition, not only a refusal) costs each call at most its deadline,
 * and the pool replaces the dead connections by itself once the database is back.
 */
export function boundedMysql2(bounds: MysqlBounds): typeof mysql2 {
  if (bounds.statementMs <= 0 && bounds.acquireMs <= 0) return mysql2;
  return {
    ...mysql2,
    createPool: ((config: mysql2.PoolOptions) =>
      boundPool(mysql2.createPool(config), bounds)) as typeof mysql2.createPool,
  };
}
