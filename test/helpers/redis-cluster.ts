import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis, { Cluster } from 'ioredis';
import { PortTaken, sparePort, startOnSparePorts } from './processes';

const run = promisify(execFile);
const HOST = '127.0.0.1';
/** The shared Redis every other suite uses: never started, stopped or flushed here. */
const SHARED_PORT = 6379;

/**
 * A throw-away Redis Cluster of `masters` masters (no replicas) on spare ports, for tests: each
 * node a `redis-server --cluster-enabled yes` daemon with its files in one temp directory, joined
 * by `redis-cli --cluster create`. `stop()` shuts every node down and removes the directory.
 */
export interface RedisClusterHandle {
  ports: number[];
  /** `REDIS_CLUSTER_NODES` for the app: `127.0.0.1:p1,127.0.0.1:p2,…`. */
  nodes: string;
  dir: string;
  /** SIGKILL of node `i` (by its pid); resolves once the process is gone. */
  kill(i: number): Promise<void>;
  /** Starts node `i` again on its port with its node config file; resolves once the cluster is ok. */
  restart(i: number): Promise<void>;
  /** Resolves once every running node reports `cluster_state:ok`. */
  waitOk(timeoutMs?: number): Promise<void>;
  /** A client for assertions (`disconnect()` it). */
  client(): Cluster;
  /** The node that holds `key`'s slot. */
  portOf(key: string): Promise<number>;
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  masters?: number;
  /** `cluster-node-timeout`: how long a silent master takes to be marked failed (ms). */
  nodeTimeoutMs?: number;
  /**
   * Each node keeps an append-only file (fsync on every write), so a killed master comes back with
   * its data, as a production node with persistence (or a replica) would. Default: nothing on disk.
   */
  persistent?: boolean;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', HOST, '-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startRedisCluster(opts: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = opts.masters ?? 3;
  const nodeTimeoutMs = opts.nodeTimeoutMs ?? 2000;
  const dir = mkdtempSync(join(tmpdir(), 'fsv-redis-cluster-'));
  const taken = new Set<number>();
  // Each node's ports are chosen right before its first start (see `firstStart`); a restart keeps
  // them, as the cluster's config files name them.
  const ports: number[] = [];
  const busPorts: number[] = [];
  const pidFile = (i: number): string => join(dir, `redis-${ports[i]}.pid`);
  const readPid = (i: number): number | null =>
    existsSync(pidFile(i)) ? Number(readFileSync(pidFile(i), 'utf8').trim()) || null : null;
  const down = new Set<number>();

  const logFile = (i: number): string => join(dir, `redis-${ports[i]}.log`);

  const startNode = async (i: number): Promise<void> => {
    const port = ports[i];
    await run('redis-server', [
      '--port',
      String(port),
      '--cluster-port',
      String(busPorts[i]),
      '--bind',
      HOST,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout',
      String(nodeTimeoutMs),
      '--save',
      '',
      '--appendonly',
      opts.persistent ? 'yes' : 'no',
      ...(opts.persistent
        ? [
            '--appendfsync',
            'always',
            '--appendfilename',
            `appendonly-${port}.aof`,
            '--appenddirname',
            `aof-${port}`,
          ]
        : []),
      '--daemonize',
      'yes',
      '--dir',
      dir,
      '--pidfile',
      pidFile(i),
      '--logfile',
      logFile(i),
    ]);
    for (let n = 0; ; n++) {
      try {
        if ((await cli(port, 'ping')).trim() === 'PONG') break;
      } catch {
        /* not listening yet, or gone: redis-server exits when it cannot bind its port or bus port */
        const log = existsSync(logFile(i)) ? readFileSync(logFile(i), 'utf8') : '';
        if (log.includes('Address already in use'))
          throw new PortTaken(`redis-server on ${port}: a port was taken before it could bind it`);
      }
      if (n > 100) throw new Error(`redis-server on ${port} did not start`);
      await sleep(50);
    }
    down.delete(i);
  };

  /** The first start picks spare ports, and others when redis-server finds one taken meanwhile. */
  const firstStart = (i: number): Promise<void> =>
    startOnSparePorts(
      async () => {
        // The bus port is set explicitly, so only the ports themselves must be free and distinct.
        ports[i] = await sparePort(taken, SHARED_PORT);
        busPorts[i] = await sparePort(taken, SHARED_PORT);
      },
      () => startNode(i),
    );

  const waitOk = async (timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let ok = true;
      for (let i = 0; i < masters && ok; i++) {
        if (down.has(i)) continue;
        try {
          ok = (await cli(ports[i], 'cluster', 'info')).includes('cluster_state:ok');
        } catch {
          ok = false;
        }
      }
      if (ok) return;
      if (Date.now() > deadline)
        throw new Error(`redis cluster on ${ports.join(',')} not ok in ${timeoutMs} ms`);
      await sleep(100);
    }
  };

  const stopNode = async (i: number, signal: NodeJS.Signals): Promise<void> => {
    const pid = readPid(i);
    if (pid === null || !alive(pid)) return;
    process.kill(pid, signal);
    for (let n = 0; alive(pid); n++) {
      if (n > 200) process.kill(pid, 'SIGKILL');
      await sleep(25);
    }
  };

  const handle: RedisClusterHandle = {
    ports,
    get nodes() {
      return ports.map((p) => `${HOST}:${p}`).join(',');
    },
    dir,
    kill: async (i) => {
      down.add(i);
      await stopNode(i, 'SIGKILL');
    },
    restart: async (i) => {
      await startNode(i);
      await waitOk();
    },
    waitOk,
    client: () =>
      new Cluster(
        ports.map((port) => ({ host: HOST, port })),
        { redisOptions: { maxRetriesPerRequest: 1 } },
      ),
    portOf: async (key) => {
      const live = ports.find((_, i) => !down.has(i));
      if (live === undefined) throw new Error('no node is running');
      const r = new Redis({ host: HOST, port: live, lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await r.connect();
        const slot = Number(await r.cluster('KEYSLOT', key));
        const hit = (await r.cluster('SLOTS')).find(([from, to]) => slot >= from && slot <= to);
        if (!hit?.[2]) throw new Error(`no node holds slot ${slot}`);
        return hit[2][1];
      } finally {
        r.disconnect();
      }
    },
    stop: async () => {
      for (let i = 0; i < ports.length; i++) await stopNode(i, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    for (let i = 0; i < masters; i++) await firstStart(i);
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `${HOST}:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    await waitOk();
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}
