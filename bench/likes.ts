/**
 * Like/unlike throughput of the built server (`npm run build:server && npm run bench:likes`).
 *
 * Starts the api and the worker as child processes on a private MariaDB database, Redis prefix
 * and RabbitMQ vhost (the broker behind a local TCP proxy so it can be taken away), then measures:
 *   1. like/unlike with broker + worker up: accepted writes/s, p50, p99;
 *   2. the same with the worker stopped (events pile up), then the worker's drain rate (events/s);
 *   3. the same with the broker unreachable: the fallback path (降级直写).
 * Options: --seconds N (per phase, default 10), --connections N (default 64), --accounts N (128).
 * MYSQL_URL, REDIS_URL, AMQP_URL (without vhost) name the servers (defaults: localhost).
 * BENCH_NODE_ARGS: extra node flags for the api and worker (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
 * Each phase also prints the CPU seconds spent by the api, the worker, the load generator and the
 * local servers (mariadbd, redis-server, beam.smp), from /proc, so it shows where the cores went.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { createConnection } from 'mysql2/promise';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const MYSQL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const AMQP = new URL(process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const SECONDS = arg('seconds', 10);
const CONNECTIONS = arg('connections', 64);
const ACCOUNTS = arg('accounts', 128);
const VIDEOS = 64;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A TCP proxy in front of the broker: `cut()` drops and refuses connections, `restore()` accepts. */
class Proxy {
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  private accepting = true;
  port = 0;
  constructor(
    private readonly host: string,
    private readonly target: number,
  ) {}
  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (!this.accepting) return void client.destroy();
      const up = tcpConnect(this.target, this.host);
      this.sockets.add(client).add(up);
      const drop = (): void => {
        client.destroy();
        up.destroy();
        this.sockets.delete(client);
        this.sockets.delete(up);
      };
      client.on('error', drop).on('close', drop);
      up.on('error', drop).on('close', drop);
      client.pipe(up);
      up.pipe(client);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }
  cut(): void {
    this.accepting = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
  restore(): void {
    this.accepting = true;
  }
  stop(): Promise<void> {
    this.cut();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
let baseUrl = '';

function post(
  path: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const data = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = request(
      baseUrl + path,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', () => resolve({ status: 0, json: {} }));
    req.end(data);
  });
}

const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

function spawnNode(script: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [...NODE_ARGS, join(ROOT, script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

async function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  const p = spawnNode('dist/apps/worker/src/main.js', env);
  await new Promise<void>((resolve, reject) => {
    p.on('message', (m: { type?: string }) => m?.type === 'ready' && resolve());
    p.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
  return p;
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await gone;
}

async function queued(vhost: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', [
    '-q',
    'list_queues',
    '-p',
    vhost,
    '--no-table-headers',
    'name',
    'messages',
  ]);
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([name, n]) => name && !name.endsWith('.dlq') && n !== undefined)
    .reduce((sum, [, n]) => sum + Number(n), 0);
}

interface Phase {
  accepted: number;
  rejected: number;
  failed: number;
  seconds: number;
  p50: number;
  p99: number;
}

/** Each connection owns its accounts and toggles like/unlike over the videos, so every write is accepted. */
const likedByConnection = new Map<number, Set<string>>();

async function load(clients: { token: string }[], videos: number[], seconds: number): Promise<Phase> {
  const latencies: number[] = [];
  let accepted = 0;
  let rejected = 0;
  let failed = 0;
  const end = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, c) => {
      const mine = clients.filter((_, i) => i % CONNECTIONS === c);
      const liked = likedByConnection.get(c) ?? new Set<string>();
      likedByConnection.set(c, liked);
      let n = c;
      while (Date.now() < end) {
        const client = mine[n % mine.length];
        const video = videos[Math.floor(n / mine.length) % videos.length];
        n++;
        const key = `${client.token}:${video}`;
        const unlike = liked.has(key);
        const t0 = process.hrtime.bigint();
        const res = await post(unlike ? '/like/unlike' : '/like/like', { video_id: video }, client.token);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (res.status === 200) {
          accepted++;
          if (unlike) liked.delete(key);
          else liked.add(key);
        } else if (res.status === 409) {
          rejected++;
          if (unlike) liked.delete(key);
          else liked.add(key);
        } else failed++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const q = (p: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { accepted, rejected, failed, seconds: (Date.now() - started) / 1000, p50: q(0.5), p99: q(0.99) };
}

/** CPU seconds (user + system) of a process, from /proc; 0 when it is gone or unreadable. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

function pidsNamed(name: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === name) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

const procs: Record<string, () => number[]> = {
  api: () => (apiPid ? [apiPid] : []),
  worker: () => (workerPid ? [workerPid] : []),
  bench: () => [process.pid],
  mariadbd: () => pidsNamed('mariadbd'),
  redis: () => pidsNamed('redis-server'),
  rabbitmq: () => pidsNamed('beam.smp'),
};
let apiPid: number | undefined;
let workerPid: number | undefined;

function cpuSnapshot(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, pids] of Object.entries(procs)) out[k] = pids().reduce((s, p) => s + cpuSeconds(p), 0);
  return out;
}

async function measured(name: string, phase: () => Promise<Phase>): Promise<void> {
  const before = cpuSnapshot();
  const p = await phase();
  const after = cpuSnapshot();
  report(name, p);
  console.log(
    '  cpu s/s: ' +
      Object.keys(procs)
        .map((k) => `${k} ${((after[k] - (before[k] ?? 0)) / p.seconds).toFixed(2)}`)
        .join(', ') +
      ` | per 1k accepted (ms cpu): ` +
      Object.keys(procs)
        .map((k) => `${k} ${(((after[k] - (before[k] ?? 0)) * 1e6) / Math.max(1, p.accepted)).toFixed(0)}`)
        .join(', '),
  );
}

function report(name: string, p: Phase): void {
  console.log(
    `${name}: ${(p.accepted / p.seconds).toFixed(0)} accepted likes/s (${p.accepted} in ${p.seconds.toFixed(1)} s), ` +
      `p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms, ${p.rejected} 409, ${p.failed} failed`,
  );
}

async function main(): Promise<void> {
  const id = `b${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const db = `fsv_${id}`;
  const vhost = `fsv_${id}`;
  const admin = await createConnection(MYSQL);
  await admin.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await run('rabbitmqctl', ['-q', 'add_vhost', vhost]);
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, AMQP.username, '.*', '.*', '.*']);
  const proxy = new Proxy(AMQP.hostname, Number(AMQP.port || 5672));
  await proxy.start();
  const port = 20000 + Math.floor(Math.random() * 20000);
  baseUrl = `http://127.0.0.1:${port}`;
  const env = {
    NODE_ENV: 'production',
    JWT_SECRET: randomBytes(32).toString('hex'),
    DATA_DIR: join(ROOT, 'data', 'bench-likes'),
    DATABASE_URL: `${MYSQL}/${db}`,
    REDIS_URL: REDIS,
    REDIS_KEY_PREFIX: `fsv:${id}:`,
    AMQP_URL: `amqp://${AMQP.username}:${AMQP.password}@127.0.0.1:${proxy.port}/${vhost}`,
    RATE_LIMITS: 'off',
    LOG_LEVEL: 'error',
    PORT: String(port),
    HOST: '127.0.0.1',
  };
  const api = spawnNode('dist/apps/api/src/main.js', env);
  apiPid = api.pid;
  let worker: ChildProcess | null = null;
  try {
    for (let i = 0; ; i++) {
      if ((await post('/healthz', {})).status !== 0) break; // any answer: listening
      if (i > 600) throw new Error('api did not start');
      await sleep(100);
    }
    worker = await startWorker(env);
    const clients: { token: string }[] = [];
    for (let i = 0; i < ACCOUNTS; i += 16) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(16, ACCOUNTS - i) }, async (_, j) => {
          const username = `bench_${i + j}`;
          await post('/account/register', { username, password: 'bench-password' });
          const login = await post('/account/login', { username, password: 'bench-password' });
          return { token: String(login.json.token) };
        }),
      );
      clients.push(...batch);
    }
    const videos: number[] = [];
    for (let i = 0; i < VIDEOS; i++) {
      const v = await post(
        '/video/publish',
        {
          title: `bench ${i}`,
          play_url: 'https://example.com/v.mp4',
          cover_url: 'https://example.com/c.jpg',
        },
        clients[i % clients.length].token,
      );
      videos.push(Number(v.json.id));
    }
    await load(clients, videos, 2); // warm-up
    while ((await queued(vhost)) > 0) await sleep(500);

    workerPid = worker.pid;
    await measured('broker + worker up', () => load(clients, videos, SECONDS));

    await stop(worker);
    worker = null;
    workerPid = undefined;
    await measured('broker up, worker stopped', () => load(clients, videos, SECONDS));
    const backlog = await queued(vhost);
    const t0 = Date.now();
    worker = await startWorker(env);
    workerPid = worker.pid;
    while ((await queued(vhost)) > 0) await sleep(200);
    const drainS = (Date.now() - t0) / 1000;
    console.log(
      `worker drain: ${backlog} events in ${drainS.toFixed(1)} s = ${(backlog / drainS).toFixed(0)} events/s`,
    );

    proxy.cut();
    await sleep(500);
    await measured('broker down (fallback: direct apply)', () => load(clients, videos, SECONDS));
    proxy.restore();
  } finally {
    if (worker) await stop(worker);
    await stop(api);
    await proxy.stop();
    agent.destroy();
    await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await admin.end();
    await run('rabbitmqctl', ['-q', 'delete_vhost', vhost]).catch(() => undefined);
    const redis = new Redis(REDIS);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `fsv:${id}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
