import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection, type Connection } from 'mysql2/promise';
import { PortTaken, sparePort, startOnSparePorts } from './processes';

const run = promisify(execFile);
const HOST = '127.0.0.1';
/** The shared server every other suite uses: never started, stopped or reconfigured here. */
const SHARED_PORT = 3306;

/**
 * A throw-away MariaDB primary (binlog on) and one replica replicating from it (GTID), on spare
 * ports with their data in one temp directory, independent of the server on 3306. Small buffers:
 * this machine has two cores. Root has an empty password on 127.0.0.1 (mariadb-install-db's
 * "normal" root authentication), as on the shared server. `stop()` shuts both down and removes
 * the directory.
 */
export interface MariadbPairHandle {
  /** `mysql://root@127.0.0.1:<port>` (no database), like `TEST_MYSQL_URL`. */
  primaryUrl: string;
  replicaUrl: string;
  primaryPort: number;
  replicaPort: number;
  dir: string;
  /** One statement on the primary or the replica (a new connection each time). */
  sql<T = Record<string, unknown>>(on: 'primary' | 'replica', q: string, params?: unknown[]): Promise<T[]>;
  /** Resolves once the replica has applied everything the primary has written so far. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** The replica process killed (SIGKILL): its connections drop, new ones are refused. */
  killReplica(): Promise<void>;
  /** The replica started again on its port and data; replication resumes; resolves once caught up. */
  startReplica(): Promise<void>;
  stop(): Promise<void>;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function connect(port: number): Promise<Connection> {
  return createConnection({ host: HOST, port, user: 'root', connectTimeout: 2000 });
}

/** mariadbd options both servers share: small, fast, test-only durability. */
const COMMON = [
  '--bind-address=' + HOST,
  '--skip-name-resolve',
  '--innodb-buffer-pool-size=32M',
  '--innodb-log-file-size=16M',
  '--innodb-flush-log-at-trx-commit=2',
  '--performance-schema=0',
  '--character-set-server=utf8mb4',
  '--collation-server=utf8mb4_general_ci',
  '--max-connections=300',
];

export async function startMariadbPair(): Promise<MariadbPairHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'fsv-mariadb-pair-'));
  const taken = new Set<number>();
  // Chosen right before each first start (the installs take seconds, in which another suite's
  // process may bind a port picked earlier); a port taken all the same is replaced (see `start`).
  const ports = { primary: 0, replica: 0 };
  const pids: Partial<Record<'primary' | 'replica', number>> = {};

  const install = async (name: string): Promise<void> => {
    mkdirSync(join(dir, name, 'tmp'), { recursive: true });
    await run(
      'mariadb-install-db',
      [
        '--no-defaults',
        '--user=root',
        `--datadir=${join(dir, name, 'data')}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        '--innodb-log-file-size=16M',
        `--tmpdir=${join(dir, name, 'tmp')}`,
      ],
      { timeout: 60_000 },
    );
  };

  /** The first start picks a spare port, and another when mariadbd finds it taken meanwhile. */
  const firstStart = (name: 'primary' | 'replica'): Promise<void> =>
    startOnSparePorts(
      async () => {
        ports[name] = await sparePort(taken, SHARED_PORT);
      },
      () => start(name),
    );

  const start = async (name: 'primary' | 'replica'): Promise<void> => {
    const home = join(dir, name);
    rmSync(join(home, 'error.log'), { force: true });
    const args = [
      '--no-defaults',
      '--user=root',
      `--datadir=${join(home, 'data')}`,
      `--port=${ports[name]}`,
      `--socket=${join(home, 'mysqld.sock')}`,
      `--pid-file=${join(home, 'mysqld.pid')}`,
      `--log-error=${join(home, 'error.log')}`,
      `--tmpdir=${join(home, 'tmp')}`,
      ...COMMON,
      ...(name === 'primary'
        ? ['--server-id=1', `--log-bin=${join(home, 'data', 'binlog')}`, '--binlog-format=MIXED']
        : ['--server-id=2', `--relay-log=${join(home, 'data', 'relay')}`, '--read-only=1']),
    ];
    const child = spawn('mariadbd', args, { stdio: 'ignore' });
    child.unref();
    for (let n = 0; ; n++) {
      if (child.exitCode !== null) {
        const log = readFileSync(join(home, 'error.log'), 'utf8');
        if (log.includes('Address already in use'))
          throw new PortTaken(`mariadbd (${name}): port ${ports[name]} was taken before it could bind it`);
        throw new Error(`mariadbd (${name}) exited: ${log.slice(-2000)}`);
      }
      try {
        const c = await connect(ports[name]);
        await c.end();
        break;
      } catch {
        /* starting */
      }
      if (n > 600) {
        child.kill('SIGKILL'); // not left running, unanswered, behind a failed start
        throw new Error(`mariadbd (${name}) did not answer in 60 s`);
      }
      await sleep(100);
    }
    pids[name] = child.pid;
  };

  const stopServer = async (name: 'primary' | 'replica', signal: NodeJS.Signals): Promise<void> => {
    const pid = pids[name];
    if (pid === undefined || !alive(pid)) return;
    process.kill(pid, signal);
    for (let n = 0; alive(pid); n++) {
      if (n === 1200) process.kill(pid, 'SIGKILL');
      await sleep(25);
    }
    delete pids[name];
  };

  const sql = async <T>(on: 'primary' | 'replica', q: string, params: unknown[] = []): Promise<T[]> => {
    const c = await connect(ports[on]);
    try {
      const [rows] = await c.query(q, params);
      return rows as T[];
    } finally {
      await c.end();
    }
  };

  const caughtUp = async (timeoutMs = 30_000): Promise<void> => {
    const [{ pos }] = await sql<{ pos: string }>('primary', 'SELECT @@gtid_binlog_pos AS pos');
    const [{ r }] = await sql<{ r: number }>('replica', 'SELECT MASTER_GTID_WAIT(?, ?) AS r', [
      pos,
      timeoutMs / 1000,
    ]);
    if (Number(r) !== 0) throw new Error(`replica did not reach ${pos} in ${timeoutMs} ms`);
  };

  const replicating = async (): Promise<void> => {
    for (let n = 0; ; n++) {
      const [row] = await sql<Record<string, string | null>>('replica', 'SHOW SLAVE STATUS');
      if (row?.Slave_IO_Running === 'Yes' && row.Slave_SQL_Running === 'Yes') return;
      if (n > 300) throw new Error(`replica not replicating: ${JSON.stringify(row)}`);
      await sleep(100);
    }
  };

  const handle: MariadbPairHandle = {
    get primaryUrl() {
      return `mysql://root@${HOST}:${ports.primary}`;
    },
    get replicaUrl() {
      return `mysql://root@${HOST}:${ports.replica}`;
    },
    get primaryPort() {
      return ports.primary;
    },
    get replicaPort() {
      return ports.replica;
    },
    dir,
    sql,
    caughtUp,
    killReplica: () => stopServer('replica', 'SIGKILL'),
    startReplica: async () => {
      await start('replica');
      await replicating();
      await caughtUp();
    },
    stop: async () => {
      await stopServer('replica', 'SIGTERM');
      await stopServer('primary', 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    // One after the other: two bootstraps at once have failed on each other's temporary tables.
    await install('primary');
    await install('replica');
    await firstStart('primary');
    await firstStart('replica');
    await sql(
      'replica',
      `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = 'root', MASTER_PASSWORD = '',
         MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1`,
      [HOST, ports.primary],
    );
    await sql('replica', 'START SLAVE');
    await replicating();
    await caughtUp();
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}
