import { Logger } from '@nestjs/common';
import type * as mysql2 from 'mysql2';
import { inReplicaRead } from './read-routing';

/** How often each replica's lag is read: half the max lag, between 250 ms and 1 s. */
export function replicaCheckIntervalMs(maxLagSeconds: number): number {
  return Math.min(1000, Math.max(250, Math.round((maxLagSeconds * 1000) / 2)));
}

/** What the router knows of one replica (for /healthz, /metrics and logs). */
export interface ReplicaStatus {
  /** `host:port`, never the credentials. */
  replica: string;
  /** `up`: in use; `lagging`: behind more than the max lag, or replication stopped; `down`: unreachable. */
  state: 'up' | 'lagging' | 'down' | 'unknown';
  /** Seconds behind the primary at the last check (null: unknown). */
  lagSeconds: number | null;
  reason: string;
}

export interface ReplicaRoutingOptions {
  /** `REPLICA_MAX_LAG`: a replica further behind (or of unknown lag) is skipped. */
  maxLagSeconds: number;
  checkIntervalMs?: number;
}

type Callback = (err: Error | null, ...rest: unknown[]) => void;
type QueryFn = (this: unknown, ...args: unknown[]) => unknown;
interface Connection {
  query: QueryFn;
  execute?: QueryFn;
  release(): void;
}
interface Replica {
  id: string;
  pool: mysql2.Pool;
  status: ReplicaStatus;
  checking: boolean;
}

const ROUTED = Symbol('replicaRouted');
const STATUS_QUERIES = ['SHOW REPLICA STATUS', 'SHOW SLAVE STATUS'];

function isFatal(err: unknown): boolean {
  return (err as { fatal?: unknown } | null)?.fatal === true;
}

/**
 * What TypeORM's MySQL driver gets from `createPoolCluster` with `replication`: a MASTER pool and
 * SLAVE0..n pools (each made by the bounded `createPool`, so deadlines apply to replicas too), and
 * `getConnection('MASTER' | 'SLAVE*')`. A SLAVE* connection comes from a replica that answered its
 * last check within the max lag, round robin; when none does, or the chosen one refuses the
 * connection, from the primary. A read that loses its replica connection mid-statement is run
 * again once on the primary (reads only reach replicas). Replicas are checked every
 * {@link replicaCheckIntervalMs} with `SHOW REPLICA STATUS` (`SHOW SLAVE STATUS` on older
 * servers): down, replication stopped (lag NULL) or lag above the max → skipped until a check says
 * otherwise; a server that is not replicating at all reports no row and counts as current.
 */
export class ReplicaPoolCluster {
  private readonly logger = new Logger('ReadReplicas');
  private master: mysql2.Pool | null = null;
  private readonly replicas: Replica[] = [];
  private next = 0;
  private timer: NodeJS.Timeout | null = null;
  private statusQuery = 0;
  private readonly intervalMs: number;

  constructor(
    private readonly createPool: (config: mysql2.PoolOptions) => mysql2.Pool,
    private readonly options: ReplicaRoutingOptions,
  ) {
    this.intervalMs = options.checkIntervalMs ?? replicaCheckIntervalMs(options.maxLagSeconds);
  }

  add(id: string, config: mysql2.PoolOptions): void {
    const pool = this.createPool(config);
    if (id === 'MASTER') {
      this.master = pool;
      return;
    }
    const replica = `${config.host ?? 'localhost'}:${config.port ?? 3306}`;
    this.replicas.push({
      id,
      pool,
      checking: false,
      // Unused until its first check answers.
      status: { replica, state: 'unknown', lagSeconds: null, reason: 'not checked yet' },
    });
    if (!this.timer) {
      this.timer = setInterval(() => this.checkAll(), this.intervalMs);
      this.timer.unref();
      setImmediate(() => this.checkAll());
    }
  }

  /**
   * TypeORM asks for `MASTER` (every statement here: replication's `defaultMode` is master) or
   * `SLAVE*`. A replica is handed out for `SLAVE*` and for any connection taken inside a
   * `Database.reader` read that was allowed one ({@link inReplicaRead}).
   */
  getConnection(pattern: string, selectorOrCb: string | Callback, maybeCb?: Callback): void {
    const cb = (typeof selectorOrCb === 'function' ? selectorOrCb : maybeCb) as Callback;
    const replica = pattern.startsWith('SLAVE') || inReplicaRead() ? this.pick() : undefined;
    if (!replica) return this.fromMaster(cb);
    replica.pool.getConnection((err, conn) => {
      if (err || !conn) {
        this.mark(replica, 'down', null, `no connection: ${err?.message ?? 'none'}`);
        return this.fromMaster(cb);
      }
      cb(null, this.retryOnPrimary(replica, conn as unknown as Connection));
    });
  }

  end(cb?: (err?: Error | null) => void): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const pools = [...(this.master ? [this.master] : []), ...this.replicas.map((r) => r.pool)];
    let left = pools.length;
    let failed: Error | null = null;
    if (left === 0) return void process.nextTick(() => cb?.(null));
    for (const p of pools) {
      p.end((err) => {
        failed ??= err ?? null;
        if (--left === 0) cb?.(failed);
      });
    }
  }

  /** Each replica's state as of its last check. */
  status(): ReplicaStatus[] {
    return this.replicas.map((r) => ({ ...r.status }));
  }

  private fromMaster(cb: Callback): void {
    if (!this.master) return cb(new Error('no primary pool'));
    this.master.getConnection((err, conn) => (err ? cb(err) : cb(null, conn)));
  }

  private pick(): Replica | undefined {
    const usable = this.replicas.filter((r) => r.status.state === 'up');
    if (usable.length === 0) return undefined;
    return usable[this.next++ % usable.length];
  }

  /**
   * A fatal error (connection lost, statement deadline) on a replica read (`query`, or `execute`:
   * a prepared statement): skip the replica, run the same call once on the primary.
   */
  private retryOnPrimary(replica: Replica, conn: Connection): Connection {
    const tagged = conn as Connection & { [ROUTED]?: true };
    if (tagged[ROUTED]) return conn;
    tagged[ROUTED] = true;
    const fromMaster = this.fromMaster.bind(this);
    const markDown = (err: Error): void => this.mark(replica, 'down', null, `lost mid-read: ${err.message}`);
    for (const method of ['query', 'execute'] as const) {
      const original = conn[method];
      if (typeof original !== 'function') continue;
      conn[method] = function (this: unknown, ...args: unknown[]): unknown {
        const i = args.findIndex((a) => typeof a === 'function');
        if (i < 0) return original.apply(this, args);
        const callback = args[i] as Callback;
        const again = [...args];
        args[i] = (err: Error | null, ...rest: unknown[]): void => {
          if (!err || !isFatal(err)) return callback(err, ...rest);
          markDown(err);
          fromMaster((e, primary) => {
            if (e || !primary) return callback(err);
            const p = primary as unknown as Connection;
            again[i] = (err2: Error | null, ...rest2: unknown[]): void => {
              p.release();
              callback(err2, ...rest2);
            };
            const run = p[method];
            if (typeof run !== 'function') return callback(err);
            run.apply(p, again);
          });
        };
        return original.apply(this, args);
      };
    }
    return conn;
  }

  private checkAll(): void {
    for (const r of this.replicas) {
      if (r.checking) continue;
      r.checking = true;
      void this.check(r).finally(() => {
        r.checking = false;
      });
    }
  }

  private async check(r: Replica): Promise<void> {
    let rows: Record<string, unknown>[];
    try {
      rows = await this.statusRows(r.pool);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code === 'ER_SPECIFIC_ACCESS_DENIED_ERROR' || e.code === 'ER_DBACCESS_DENIED_ERROR') {
        return this.mark(
          r,
          'unknown',
          null,
          'cannot read the replication status (grant REPLICATION CLIENT / REPLICA MONITOR)',
        );
      }
      return this.mark(r, 'down', null, e.message ?? String(err));
    }
    if (rows.length === 0) return this.mark(r, 'up', 0, 'not a replica: nothing to lag');
    let lag = 0;
    for (const row of rows) {
      const v = row.Seconds_Behind_Master ?? row.Seconds_Behind_Source;
      if (v === null || v === undefined) {
        return this.mark(r, 'lagging', null, 'replication is not running (Seconds_Behind_Master is NULL)');
      }
      lag = Math.max(lag, Number(v));
    }
    if (lag > this.options.maxLagSeconds) {
      return this.mark(r, 'lagging', lag, `${lag} s behind (max ${this.options.maxLagSeconds} s)`);
    }
    this.mark(r, 'up', lag, 'current');
  }

  private async statusRows(pool: mysql2.Pool): Promise<Record<string, unknown>[]> {
    for (;;) {
      try {
        return await new Promise<Record<string, unknown>[]>((resolve, reject) =>
          pool.query(STATUS_QUERIES[this.statusQuery], (err, rows) =>
            err ? reject(err) : resolve(rows as Record<string, unknown>[]),
          ),
        );
      } catch (err) {
        // A server without SHOW REPLICA STATUS (MySQL < 8.0.22): the older spelling, from now on.
        if ((err as { code?: string }).code === 'ER_PARSE_ERROR' && this.statusQuery === 0) {
          this.statusQuery = 1;
          continue;
        }
        throw err;
      }
    }
  }

  private mark(r: Replica, state: ReplicaStatus['state'], lagSeconds: number | null, reason: string): void {
    const was = r.status.state;
    r.status = { replica: r.status.replica, state, lagSeconds, reason };
    if (was === state) return;
    if (state === 'up') this.logger.log(`replica ${r.status.replica} in use (${lagSeconds ?? 0} s behind)`);
    else if (was === 'up' || was === 'unknown') {
      this.logger.warn(`replica ${r.status.replica} skipped, reads go to the primary: ${reason}`);
    }
  }
}

/**
 * The mysql2 module for TypeORM with `replication`: `createPoolCluster` returns a
 * {@link ReplicaPoolCluster} whose pools come from `driver.createPool` (the bounded one of
 * bounded-mysql.ts, so every replica pool has the same deadlines as the primary's).
 */
export function withReplicaRouting(driver: typeof mysql2, options: ReplicaRoutingOptions): typeof mysql2 {
  return {
    ...driver,
    // TypeORM uses add/getConnection/end of the cluster it gets; the rest of mysql2's PoolCluster
    // API is not part of this contract.
    createPoolCluster: (() =>
      new ReplicaPoolCluster(
        (config) => driver.createPool(config),
        options,
      )) as unknown as typeof mysql2.createPoolCluster,
  };
}
