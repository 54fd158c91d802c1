import { QueryFailedError, type DataSource } from 'typeorm';
import { directReads } from './direct-reads';

type Cb = (err: Error | null, rows?: unknown) => void;

/** A mysql2 pool connection that records what it was asked, and fails as told. */
class FakeConnection {
  readonly calls: string[] = [];
  released = 0;
  /** Errors the next statements answer with (by method), one per call. */
  readonly failures: { query: Error[]; execute: Error[] } = { query: [], execute: [] };
  throwOnExecute: Error | undefined;

  query(sql: string, params: unknown[], cb: Cb): void {
    this.answer('query', sql, params, cb);
  }
  execute(sql: string, params: unknown[], cb: Cb): void {
    if (this.throwOnExecute) throw this.throwOnExecute;
    this.answer('execute', sql, params, cb);
  }
  release(): void {
    this.released++;
  }
  private answer(method: 'query' | 'execute', sql: string, params: unknown[], cb: Cb): void {
    this.calls.push(`${method} ${sql} ${JSON.stringify(params)}`);
    const err = this.failures[method].shift();
    setImmediate(() => (err ? cb(err) : cb(null, [{ method }])));
  }
}

function source(driver: unknown): DataSource {
  return { driver } as unknown as DataSource;
}

describe('directReads', () => {
  const conn = new FakeConnection();
  const pool = { getConnection: (cb: (e: Error | null, c?: FakeConnection) => void) => cb(null, conn) };

  beforeEach(() => {
    conn.calls.length = 0;
    conn.released = 0;
    conn.throwOnExecute = undefined;
  });

  it('is unavailable without a mysql2 pool (SQLite, a test double)', () => {
    expect(directReads(source(undefined))).toBeUndefined();
    expect(directReads(source({}))).toBeUndefined();
  });

  it('prepares a SELECT, sends any other statement as text; undefined parameters as NULL; releases each connection', async () => {
    const read = directReads(source({ pool }))!;
    await expect(read('SELECT ? AS a', [1])).resolves.toEqual([{ method: 'execute' }]);
    await expect(read('  select 1', [])).resolves.toEqual([{ method: 'execute' }]);
    await expect(read('SHOW TABLES', [])).resolves.toEqual([{ method: 'query' }]);
    await expect(read('SELECT ?, ?', [undefined, 2])).resolves.toEqual([{ method: 'execute' }]);
    expect(conn.calls).toEqual([
      'execute SELECT ? AS a [1]',
      'execute   select 1 []',
      'query SHOW TABLES []',
      'execute SELECT ?, ? [null,2]',
    ]);
    expect(conn.released).toBe(4);
  });

  it('sends as text a statement with a parameter the binary protocol would bind differently, or with many parameters', async () => {
    const read = directReads(source({ pool }))!;
    const many = Array.from({ length: 65 }, (_, i) => i);
    await expect(read('SELECT ?', [[1, 2]])).resolves.toEqual([{ method: 'query' }]);
    await expect(read('SELECT ?', [new Date(0)])).resolves.toEqual([{ method: 'query' }]);
    await expect(read('SELECT ?', [Buffer.from('x')])).resolves.toEqual([{ method: 'query' }]);
    await expect(read('SELECT ?', [true])).resolves.toEqual([{ method: 'execute' }]);
    await expect(read(`SELECT ${many.map(() => '?').join(',')}`, many)).resolves.toEqual([
      { method: 'query' },
    ]);
    await expect(
      read(
        `SELECT ${many
          .slice(1)
          .map(() => '?')
          .join(',')}`,
        many.slice(1),
      ),
    ).resolves.toEqual([{ method: 'execute' }]);
    expect(conn.released).toBe(6);
  });

  it('takes the connection from a replica cluster as TypeORM does (MASTER: the cluster routes replica reads)', async () => {
    const patterns: string[] = [];
    const cluster = {
      getConnection: (pattern: string, cb: (e: Error | null, c?: FakeConnection) => void) => {
        patterns.push(pattern);
        cb(null, conn);
      },
    };
    await directReads(source({ poolCluster: cluster, pool }))!('SELECT 1', []);
    expect(patterns).toEqual(['MASTER']);
  });

  it("a statement's error is TypeORM's QueryFailedError around the driver's; a refused connection is the pool's own", async () => {
    const dup = Object.assign(new Error('Duplicate entry'), { code: 'ER_DUP_ENTRY' });
    conn.failures.execute.push(dup);
    const read = directReads(source({ pool }))!;
    const err: unknown = await read('SELECT 1', []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueryFailedError);
    expect((err as QueryFailedError).driverError).toBe(dup);
    expect(conn.released).toBe(1);

    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const down = directReads(source({ pool: { getConnection: (cb: (e: Error) => void) => cb(refused) } }))!;
    await expect(down('SELECT 1', [])).rejects.toBe(refused);
  });

  it('a statement the server will not prepare (max_prepared_stmt_count) runs as text; a call mysql2 refuses synchronously is a QueryFailedError', async () => {
    conn.failures.execute.push(Object.assign(new Error('max_prepared_stmt_count'), { errno: 1461 }));
    const read = directReads(source({ pool }))!;
    await expect(read('SELECT 1', [])).resolves.toEqual([{ method: 'query' }]);
    expect(conn.calls).toEqual(['execute SELECT 1 []', 'query SELECT 1 []']);
    expect(conn.released).toBe(1);

    conn.throwOnExecute = new TypeError('Bind parameters must be array');
    await expect(read('SELECT ?', [1])).rejects.toBeInstanceOf(QueryFailedError);
    expect(conn.released).toBe(2);
  });
});
