import { Logger } from '@nestjs/common';
import type * as mysql2 from 'mysql2';
import { ReadRouting, ReplicaReader } from './read-routing';
import { ReplicaPoolCluster, replicaCheckIntervalMs, withReplicaRouting } from './replica-pool-cluster';

type Cb = (err: Error | null, ...rest: unknown[]) => void;

/** A connection that answers with its pool's name, or fails as told. */
class FakeConnection {
  released = 0;
  constructor(
    readonly pool: FakePool,
    private readonly failWith?: Error,
  ) {}
  query(sql: string, params: unknown, cb: Cb): void {
    this.pool.queries.push(sql);
    if (this.failWith) return cb(this.failWith);
    cb(null, [{ from: this.pool.name }]);
  }
  /** A prepared statement: the same answers, recorded as such (not through `query`, which the cluster wraps on its own). */
  execute(sql: string, params: unknown, cb: Cb): void {
    this.pool.queries.push(`prepared ${sql}`);
    if (this.failWith) return cb(this.failWith);
    cb(null, [{ from: this.pool.name }]);
  }
  release(): void {
    this.released++;
  }
}

class FakePool {
  readonly queries: string[] = [];
  status: Record<string, unknown>[] | Error = [];
  acquireError?: Error;
  queryError?: Error;
  ended = false;
  constructor(readonly name: string) {}
  getConnection(cb: Cb): void {
    if (this.acquireError) return cb(this.acquireError);
    cb(null, new FakeConnection(this, this.queryError));
  }
  query(sql: string, cb: Cb): void {
    this.queries.push(sql);
    if (this.status instanceof Error) return cb(this.status);
    if (sql === 'SHOW REPLICA STATUS' && this.name === 'old') {
      return cb(Object.assign(new Error('syntax'), { code: 'ER_PARSE_ERROR' }));
    }
    cb(null, this.status);
  }
  end(cb: (err: Error | null) => void): void {
    this.ended = true;
    cb(null);
  }
}

const fatal = (message: string): Error => Object.assign(new Error(message), { fatal: true });
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

function cluster(
  maxLagSeconds = 5,
  names = ['replica'],
): { c: ReplicaPoolCluster; pools: Map<string, FakePool> } {
  const pools = new Map<string, FakePool>();
  const c = new ReplicaPoolCluster(
    (config) => {
      const pool = new FakePool(String(config.host));
      pools.set(pool.name, pool);
      return pool as unknown as mysql2.Pool;
    },
    { maxLagSeconds, checkIntervalMs: 60_000 },
  );
  c.add('MASTER', { host: 'primary', port: 3306 });
  names.forEach((name, i) => c.add(`SLAVE${i}`, { host: name, port: 3306 }));
  return { c, pools };
}

/** Runs `sql` on a connection the cluster hands out (`MASTER`, inside or outside a replica read). */
async function read(
  c: ReplicaPoolCluster,
  inReplica: boolean,
  method: 'query' | 'execute' = 'query',
): Promise<unknown> {
  const routing = new ReadRouting(1, 5, 1000);
  const get = (): Promise<unknown> =>
    new Promise((resolve, reject) =>
      c.getConnection('MASTER', (err, conn) => {
        if (err) return reject(err);
        const connection = conn as FakeConnection;
        connection[method]('SELECT 1', [], (e, rows) => {
          connection.release();
          return e ? reject(e) : resolve(rows);
        });
      }),
    );
  if (!inReplica) return get();
  const reader = new ReplicaReader(routing, <T>() => get() as Promise<T[]>);
  return routing.runSession({ wrote: false }, () => reader.query('SELECT 1'));
}

describe('ReplicaPoolCluster', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('checks each replica at once, then every interval (half the max lag, 250 ms … 1 s)', async () => {
    expect(replicaCheckIntervalMs(5)).toBe(1000);
    expect(replicaCheckIntervalMs(1)).toBe(500);
    expect(replicaCheckIntervalMs(0)).toBe(250);
    const { c } = cluster();
    expect(c.status()).toEqual([
      { replica: 'replica:3306', state: 'unknown', lagSeconds: null, reason: 'not checked yet' },
    ]);
    await flush();
    expect(c.status()[0]).toMatchObject({ state: 'up', lagSeconds: 0 });
    c.end();
  });

  it('hands out a replica only inside a replica read, and only while it is current', async () => {
    const { c, pools } = cluster();
    expect(await read(c, true)).toEqual([{ from: 'primary' }]); // not checked yet
    await flush();
    expect(await read(c, true)).toEqual([{ from: 'replica' }]);
    expect(await read(c, false)).toEqual([{ from: 'primary' }]);
    pools.get('replica')!.status = [{ Seconds_Behind_Master: 9 }];
    (c as unknown as { checkAll(): void }).checkAll();
    await flush();
    expect(c.status()[0]).toMatchObject({ state: 'lagging', lagSeconds: 9 });
    expect(await read(c, true)).toEqual([{ from: 'primary' }]);
    pools.get('replica')!.status = [{ Seconds_Behind_Master: null }];
    (c as unknown as { checkAll(): void }).checkAll();
    await flush();
    expect(c.status()[0]).toMatchObject({ state: 'lagging', lagSeconds: null });
    pools.get('replica')!.status = [{ Seconds_Behind_Source: 2 }];
    (c as unknown as { checkAll(): void }).checkAll();
    await flush();
    expect(await read(c, true)).toEqual([{ from: 'replica' }]);
    c.end();
  });

  it('round-robins over current replicas; a replica that refuses a connection is skipped at once', async () => {
    const { c, pools } = cluster(5, ['a', 'b']);
    await flush();
    const from = [];
    for (let i = 0; i < 4; i++) from.push(await read(c, true));
    expect(from.map((r) => (r as { from: string }[])[0].from).sort()).toEqual(['a', 'a', 'b', 'b']);
    pools.get('a')!.acquireError = fatal('connect ECONNREFUSED');
    pools.get('b')!.acquireError = fatal('connect ECONNREFUSED');
    expect(await read(c, true)).toEqual([{ from: 'primary' }]);
    expect(await read(c, true)).toEqual([{ from: 'primary' }]);
    expect(c.status().map((s) => s.state)).toEqual(['down', 'down']);
    c.end();
  });

  it('a read that loses its replica mid-statement is run once more on the primary; other errors reach the caller', async () => {
    const { c, pools } = cluster();
    await flush();
    pools.get('replica')!.queryError = fatal('Connection lost: The server closed the connection.');
    expect(await read(c, true)).toEqual([{ from: 'primary' }]);
    expect(c.status()[0].state).toBe('down');
    expect(pools.get('primary')!.queries).toEqual(['SELECT 1']);

    const again = cluster();
    await flush();
    again.pools.get('replica')!.queryError = Object.assign(new Error('no such table'), {
      code: 'ER_NO_SUCH_TABLE',
    });
    await expect(read(again.c, true)).rejects.toThrow('no such table');
    expect(again.pools.get('primary')!.queries).toEqual([]);
    c.end();
    again.c.end();
  });

  it('a prepared read (execute) that loses its replica mid-statement is prepared again on the primary', async () => {
    const { c, pools } = cluster();
    await flush();
    pools.get('replica')!.queryError = fatal('Connection lost: The server closed the connection.');
    expect(await read(c, true, 'execute')).toEqual([{ from: 'primary' }]);
    expect(c.status()[0].state).toBe('down');
    expect(pools.get('replica')!.queries).toContain('prepared SELECT 1');
    expect(pools.get('primary')!.queries).toEqual(['prepared SELECT 1']);
    c.end();
  });

  it('falls back to SHOW SLAVE STATUS; a missing privilege or an unreachable replica keeps it out', async () => {
    const { c, pools } = cluster(5, ['old', 'denied', 'gone']);
    pools.get('old')!.status = [{ Seconds_Behind_Master: 1 }];
    pools.get('denied')!.status = Object.assign(new Error('denied'), {
      code: 'ER_SPECIFIC_ACCESS_DENIED_ERROR',
    });
    pools.get('gone')!.status = fatal('connect ECONNREFUSED');
    await flush();
    await flush();
    expect(pools.get('old')!.queries).toEqual(['SHOW REPLICA STATUS', 'SHOW SLAVE STATUS']);
    expect(c.status().map((s) => s.state)).toEqual(['up', 'unknown', 'down']);
    c.end();
  });

  it('end() stops the checks and ends every pool', async () => {
    const { c, pools } = cluster();
    await new Promise<void>((resolve) => c.end(() => resolve()));
    expect([...pools.values()].every((p) => p.ended)).toBe(true);
  });

  it('withReplicaRouting gives TypeORM a createPoolCluster built on the driver’s own createPool', () => {
    const created: string[] = [];
    const driver = {
      createPool: (config: mysql2.PoolOptions) => {
        created.push(String(config.host));
        return new FakePool(String(config.host)) as unknown as mysql2.Pool;
      },
    } as unknown as typeof mysql2;
    const routed = withReplicaRouting(driver, { maxLagSeconds: 5 });
    const poolCluster = routed.createPoolCluster() as unknown as ReplicaPoolCluster;
    poolCluster.add('MASTER', { host: 'p' });
    poolCluster.add('SLAVE0', { host: 'r' });
    expect(created).toEqual(['p', 'r']);
    expect(poolCluster).toBeInstanceOf(ReplicaPoolCluster);
    poolCluster.end();
  });
});
