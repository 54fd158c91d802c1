import { QueryFailedError, type DataSource } from 'typeorm';

type RowsCallback = (err: Error | null, rows?: unknown) => void;

/** What a pool connection of mysql2 offers here (`execute`: a prepared statement, cached per connection). */
interface PooledConnection {
  query(sql: string, params: unknown[], cb: RowsCallback): unknown;
  execute(sql: string, params: unknown[], cb: RowsCallback): unknown;
  release(): void;
}
type ConnectionCallback = (err: Error | null, conn?: PooledConnection) => void;

/** The pools TypeORM's MySQL driver holds once initialised: one pool, or a cluster with replicas. */
interface MysqlDriverPools {
  pool?: { getConnection(cb: ConnectionCallback): void };
  poolCluster?: { getConnection(pattern: string, cb: ConnectionCallback): void };
}

/** `max_prepared_stmt_count` reached on the server: that statement runs unprepared. */
const ER_MAX_PREPARED_STMT_COUNT_REACHED = 1461;
/** Only plain reads are prepared (every other statement is sent as text, as TypeORM sends it). */
const PREPARABLE = /^\s*SELECT\s/i;
/**
 * A statement with more parameters is sent as text: long `IN` lists (a timeline build's rows, a
 * 49-author pull) come in many lengths, each a statement of its own that would be prepared, run
 * once and evict a hot one.
 */
const MAX_PREPARED_PARAMS = 64;

/**
 * Prepared statements each pool connection keeps (least recently used closed first). The server
 * caps them all together (`max_prepared_stmt_count`, 16,382 by default, for every client): 20
 * connections × 64 = 1,280 per process. The hot reads (a page by its keyset, the items of a page
 * by id, a few authors' ids) are used far more often than the rest, so they stay prepared.
 */
export const MAX_PREPARED_PER_CONNECTION = 64;

/** Binds the binary protocol sends as the text protocol would: null, numbers, strings, booleans. */
function scalar(p: unknown): boolean {
  return p === null || typeof p === 'number' || typeof p === 'string' || typeof p === 'boolean';
}

/**
 * Raw reads straight on mysql2's pool, as prepared statements (issue 14). Measured on this host
 * (bench/README, "Prepared reads"): TypeORM's `DataSource.query` costs ~45–60 µs of the api's CPU
 * per statement (a query runner per call, its result wrapping), the pool's own `execute` ~32–43;
 * and the server skips parsing and planning a statement it has prepared. Same contract as
 * `DataSource.query` for a read: the rows; a statement's failure as TypeORM's
 * `QueryFailedError` (its driver error inside, so `isDuplicateKey`, `isConnectionError` … read it
 * the same); a connection that could not be had as the pool's own error. The connection comes the
 * way TypeORM asks for it (`getConnection('MASTER')` of a replica cluster: a replica when the
 * caller's read allows one, see `ReplicaPoolCluster`), so routing, deadlines and replica retries
 * are unchanged. `undefined` params are sent as NULL (as the text protocol does); a statement with
 * another kind of parameter (an array, an object, a Date, a Buffer) or more than
 * {@link MAX_PREPARED_PARAMS} of them is sent as text, as before. Run against MariaDB 10.11 only:
 * on MySQL 8, `LIMIT ?` takes a number only as an integer, which mysql2 sends when the server
 * describes the parameter (every limit here is an integer).
 *
 * Returns `undefined` when the data source has no mysql2 pool (SQLite, or a test double).
 */
export function directReads(
  dataSource: DataSource,
): (<T>(sql: string, params: unknown[]) => Promise<T[]>) | undefined {
  const driver = (dataSource.driver ?? {}) as unknown as MysqlDriverPools;
  const acquire = (cb: ConnectionCallback): void => {
    if (driver.poolCluster) driver.poolCluster.getConnection('MASTER', cb);
    else if (driver.pool) driver.pool.getConnection(cb);
    else cb(new Error('the database pool is not initialised'));
  };
  if (!driver.poolCluster && !driver.pool) return undefined;
  return <T>(sql: string, params: unknown[]): Promise<T[]> =>
    new Promise<T[]>((resolve, reject) => {
      const values = params.some((p) => p === undefined) ? params.map((p) => p ?? null) : params;
      acquire((err, conn) => {
        if (err || !conn) return reject(err ?? new Error('no database connection'));
        const run = (prepared: boolean): void => {
          const done: RowsCallback = (e, rows) => {
            if (e && prepared && (e as { errno?: number }).errno === ER_MAX_PREPARED_STMT_COUNT_REACHED) {
              return run(false);
            }
            conn.release();
            if (e) reject(new QueryFailedError(sql, values, e));
            else resolve(rows as T[]);
          };
          try {
            if (prepared) conn.execute(sql, values, done);
            else conn.query(sql, values, done);
          } catch (e) {
            // mysql2 throws synchronously on a parameter it cannot bind.
            conn.release();
            reject(new QueryFailedError(sql, values, e as Error));
          }
        };
        run(PREPARABLE.test(sql) && values.length <= MAX_PREPARED_PARAMS && values.every(scalar));
      });
    });
}
