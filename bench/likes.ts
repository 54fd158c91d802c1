/**
 * Like/unlike throughput of the built server (`npm run build:server && npm run bench:likes`).
 *
 * Starts the api and the worker as child processes on a private MariaDB database, Redis prefix
 * and RabbitMQ vhost, then measures:
 *   1. like/unlike with broker + worker up: accepted writes/s, p50, p99;
 *   2. the same with the worker stopped (events pile up), then the worker's drain rate (events/s);
 *   3. the same with the broker unreachable: the fallback path (降级直写). For this phase the api
 *      and the worker are restarted against a local port that hangs up on every connection (the
 *      first two phases talk to the broker directly, so no proxy spends the cores they measure;
 *      the fault suite covers a broker cut mid-stream).
 * Options: --seconds N (per phase, default 10), --connections N (default 64), --accounts N (128),
 * --first-only (phase 1 alone), --node-client (drive the load from this process even when wrk is
 * installed; by default wrk, from Debian's `wrk` package, drives it when it is on the PATH),
 * --apis N (N api processes on N ports, default 1: the load is split evenly between them, one wrk
 * thread each; the CPU figure "api" is their sum).
 * MYSQL_URL, REDIS_URL, AMQP_URL (without vhost) name the servers (defaults: localhost).
 * BENCH_NODE_ARGS: extra node flags for the api and worker (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
 * Each phase also prints the CPU seconds spent by the api, the worker, the load generator and the
 * local servers (mariadbd, redis-server, beam.smp), from /proc, so it shows where the cores went.
 */
import { type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { postJson, type JsonReply } from './http';
import {
  AMQP,
  arg,
  deleteRedisPrefix,
  MYSQL,
  REDIS,
  ROOT,
  run,
  sleep,
  spawnNode,
  startWorker,
  stop,
} from './processes';
import { createConnection, type Connection } from 'mysql2/promise';

const SECONDS = arg('seconds', 10);
const CONNECTIONS = arg('connections', 64);
const ACCOUNTS = arg('accounts', 128);
const VIDEOS = 64;
const APIS = arg('apis', 1);

/** A port where "the broker" hangs up on every connection: the broker is down. */
async function deadBroker(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((socket: Socket) => socket.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
/** One per api process. */
let baseUrls: string[] = [];

/** To the first api, or to api `to` (the node client spreads its connections over them). */
function post(path: string, body: unknown, token?: string, to = 0): Promise<JsonReply> {
  return postJson(baseUrls[to] + path, body, agent, token);
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

/** `wrk` on the PATH (Debian package `wrk`): a C load generator that leaves the cores to the server. */
const WRK = (() => {
  if (process.argv.includes('--node-client')) return null;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try {
      readFileSync(join(dir, 'wrk'));
      return join(dir, 'wrk');
    } catch {
      /* not here */
    }
  }
  return null;
})();

/**
 * Where the wrk script's walk over (account, video) pairs stands between runs, per wrk thread:
 * thread t (one per api) takes the steps ≡ t mod APIS, so with an even P a pair's like and its
 * unlike P steps later stay with one thread and never race.
 */
let wrkSteps = Array.from({ length: APIS }, (_, t) => t);

/**
 * The same load with wrk: request k likes pair k mod P (P = accounts × videos) in even rounds
 * and unlikes it in odd rounds, so every write is accepted (a pair's next write comes P writes
 * later); the next run continues the walk. A write wrk abandons in flight at the end of a run
 * may leave its pair unknown to the script: at most a few 409s, reported and not counted.
 */
async function loadWrk(clients: { token: string }[], videos: number[], seconds: number): Promise<Phase> {
  const script = `
local tokens = {${clients.map((c) => `"${c.token}"`).join(',')}}
local videos = {${videos.join(',')}}
local P = #tokens * #videos
local ports = {${baseUrls.map((u) => new URL(u).port).join(',')}}
local starts = {${wrkSteps.join(',')}}
-- globals, not locals: setup() and done() reach them through thread:set() and thread:get()
step = 0
ok, conflict, other, sample = 0, 0, 0, ""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread.addr = wrk.lookup("127.0.0.1", tostring(ports[#threads]))[1]
  thread:set("step", starts[#threads])
end
function request()
  local k = step % P
  local round = math.floor(step / P)
  step = step + #ports
  local token = tokens[(k % #tokens) + 1]
  local video = videos[math.floor(k / #tokens) + 1]
  local path = (round % 2 == 0) and "/like/like" or "/like/unlike"
  return wrk.format("POST", path, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, '{"video_id":' .. video .. '}')
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 409 then conflict = conflict + 1
  else
    other = other + 1
    if sample == "" then sample = status .. " " .. body end
  end
end
function done(summary, latency, requests)
  local o, c, x, steps = 0, 0, 0, {}
  for _, t in ipairs(threads) do
    o, c, x = o + t:get("ok"), c + t:get("conflict"), x + t:get("other")
    table.insert(steps, t:get("step"))
    if t:get("sample") ~= "" then io.write("SAMPLE " .. t:get("sample") .. "\\n") end
  end
  io.write(string.format("RESULT %d %d %d %.3f %.3f %d %s\\n", o, c, x, latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration, table.concat(steps, ",")))
end
`;
  const path = join(ROOT, 'data', 'bench-likes', `wrk-${process.pid}.lua`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, script);
  const { stdout, stderr } = await run(WRK!, [
    `-t${APIS}`,
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    '--timeout',
    '10s',
    '-s',
    path,
    baseUrls[0],
  ]);
  if (stderr.trim()) throw new Error(`wrk: ${stderr.trim()}`); // e.g. the script did not load
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`wrk printed no result:\n${stdout}`);
  const fields = line.split(' ').slice(1);
  const [ok, conflict, other, p50, p99, micros] = fields.slice(0, 6).map(Number);
  const sample = stdout.split('\n').find((l) => l.startsWith('SAMPLE '));
  if (sample) console.log(`  first failure: ${sample.slice(7, 200)}`);
  wrkSteps = fields[6].split(',').map(Number);
  return { accepted: ok, rejected: conflict, failed: other, seconds: micros / 1e6, p50, p99 };
}

/** Each connection owns its accounts and toggles like/unlike over the videos, so every write is accepted. */
const likedByConnection = new Map<number, Set<string>>();

function load(clients: { token: string }[], videos: number[], seconds: number): Promise<Phase> {
  return WRK ? loadWrk(clients, videos, seconds) : loadNode(clients, videos, seconds);
}

/** The load from this process (no wrk): each connection toggles its own accounts' likes. */
async function loadNode(clients: { token: string }[], videos: number[], seconds: number): Promise<Phase> {
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
        const res = await post(
          unlike ? '/like/unlike' : '/like/like',
          { video_id: video },
          client.token,
          c % APIS,
        );
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
function cpuSeconds(pid: number | undefined, withChildren = false): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime + stime (+ cutime + cstime: children waited for, e.g. a finished wrk), in clock ticks
    const ticks = Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
    return ticks / 100; // USER_HZ = 100
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
  api: () => apiPids,
  worker: () => (workerPid ? [workerPid] : []),
  bench: () => [process.pid], // with its finished children: wrk
  mariadbd: () => pidsNamed('mariadbd'),
  redis: () => pidsNamed('redis-server'),
  rabbitmq: () => pidsNamed('beam.smp'),
};
let apiPids: number[] = [];
let workerPid: number | undefined;

function cpuSnapshot(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, pids] of Object.entries(procs)) {
    out[k] = pids().reduce((s, p) => s + cpuSeconds(p, k === 'bench'), 0);
  }
  // The whole machine, from the first line of /proc/stat (clock ticks): busy and waiting on I/O.
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  out['machine busy'] = (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100;
  out['machine iowait'] = f[4] / 100;
  return out;
}

async function measured(name: string, phase: () => Promise<Phase>): Promise<void> {
  const before = cpuSnapshot();
  const apisBefore = apiPids.map((pid) => cpuSeconds(pid));
  const p = await phase();
  const after = cpuSnapshot();
  const perApi = apiPids.map((pid, i) => ((cpuSeconds(pid) - apisBefore[i]) / p.seconds).toFixed(2));
  report(name, p);
  if (APIS > 1) console.log(`  cpu s/s of each api: ${perApi.join(', ')}`);
  const rate = (k: string): string => ((after[k] - (before[k] ?? 0)) / p.seconds).toFixed(2);
  console.log(
    `  cpu s/s: machine busy ${rate('machine busy')} (iowait ${rate('machine iowait')}) of ${cpus().length}; ` +
      Object.keys(procs)
        .map((k) => `${k} ${rate(k)}`)
        .join(', ') +
      ` | per 1k accepted (ms cpu): ` +
      Object.keys(procs)
        .map((k) => `${k} ${(((after[k] - (before[k] ?? 0)) * 1e6) / Math.max(1, p.accepted)).toFixed(0)}`)
        .join(', '),
  );
}

/**
 * Counters against rows once every write has settled (polled for up to 30 s): the videos whose
 * `likes_count` differs from their `likes` rows. Printed; a mismatch also fails the run.
 */
async function exactness(admin: Connection, db: string): Promise<void> {
  const check = async (): Promise<{ off: number; rows: number; counters: number }> => {
    const [[r]] = (await admin.query(
      `SELECT
         (SELECT COUNT(*) FROM \`${db}\`.videos v
           WHERE v.likes_count <> (SELECT COUNT(*) FROM \`${db}\`.likes l WHERE l.video_id = v.id)) AS off,
         (SELECT COUNT(*) FROM \`${db}\`.likes) AS \`rows\`,
         (SELECT COALESCE(SUM(likes_count), 0) FROM \`${db}\`.videos) AS counters`,
    )) as unknown as [{ off: number | string; rows: number | string; counters: number | string }[]];
    return { off: Number(r.off), rows: Number(r.rows), counters: Number(r.counters) };
  };
  let c = await check();
  for (const deadline = Date.now() + 30_000; c.off > 0 && Date.now() < deadline; c = await check()) {
    await sleep(500);
  }
  console.log(
    `exactness: ${c.off} videos with likes_count off (like rows ${c.rows}, sum of likes_count ${c.counters})`,
  );
  if (c.off > 0) process.exitCode = 1;
}

function report(name: string, p: Phase): void {
  console.log(
    `${name}: ${(p.accepted / p.seconds).toFixed(0)} accepted likes/s (${p.accepted} in ${p.seconds.toFixed(1)} s), ` +
      `p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms, ${p.rejected} 409, ${p.failed} failed`,
  );
}

async function main(): Promise<void> {
  console.log(
    `load: ${WRK ? `wrk (${WRK})` : 'node client'}, ${CONNECTIONS} connections, ${ACCOUNTS} accounts × ${VIDEOS} videos, ${SECONDS} s per phase, ${APIS} api process${APIS > 1 ? 'es' : ''}`,
  );
  const id = `b${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const db = `fsv_${id}`;
  const vhost = `fsv_${id}`;
  const admin = await createConnection(MYSQL);
  await admin.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await run('rabbitmqctl', ['-q', 'add_vhost', vhost]);
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, AMQP.username, '.*', '.*', '.*']);
  const dead = await deadBroker();
  const port = 20000 + Math.floor(Math.random() * 20000);
  baseUrls = Array.from({ length: APIS }, (_, i) => `http://127.0.0.1:${port + i}`);
  const amqpUrl = (host: string, port: number): string =>
    `amqp://${AMQP.username}:${AMQP.password}@${host}:${port}/${vhost}`;
  const env = {
    NODE_ENV: 'production',
    JWT_SECRET: randomBytes(32).toString('hex'),
    DATA_DIR: join(ROOT, 'data', 'bench-likes'),
    DATABASE_URL: `${MYSQL}/${db}`,
    REDIS_URL: REDIS,
    REDIS_KEY_PREFIX: `fsv:${id}:`,
    AMQP_URL: amqpUrl(AMQP.hostname, Number(AMQP.port || 5672)),
    RATE_LIMITS: 'off',
    MAX_CONNECTIONS_PER_IP: '0',
    LOG_LEVEL: 'error',
    PORT: String(port),
    HOST: '127.0.0.1',
  };
  const startApis = (e: Record<string, string>): ChildProcess[] => {
    const started = baseUrls.map((_, i) =>
      spawnNode('dist/apps/api/src/main.js', { ...e, PORT: String(port + i) }),
    );
    apiPids = started.map((p) => p.pid ?? 0);
    return started;
  };
  let apis = startApis(env);
  let worker: ChildProcess | null = null;
  const listening = async (): Promise<void> => {
    for (let a = 0; a < APIS; a++) {
      for (let i = 0; ; i++) {
        if ((await post('/healthz', {}, undefined, a)).status !== 0) break; // any answer: listening
        if (i > 600) throw new Error(`api ${a} did not start`);
        await sleep(100);
      }
    }
  };
  try {
    await listening();
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
    if (process.argv.includes('--first-only')) return await exactness(admin, db);

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

    await stop(worker);
    await Promise.all(apis.map(stop));
    const down = { ...env, AMQP_URL: amqpUrl('127.0.0.1', dead.port) };
    apis = startApis(down);
    await listening();
    worker = await startWorker(down);
    workerPid = worker.pid;
    await load(clients, videos, 1); // warm-up
    await measured('broker down (fallback: direct apply)', () => load(clients, videos, SECONDS));
    await exactness(admin, db);
  } finally {
    if (worker) await stop(worker);
    await Promise.all(apis.map(stop));
    await dead.close();
    agent.destroy();
    await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await admin.end();
    await run('rabbitmqctl', ['-q', 'delete_vhost', vhost]).catch(() => undefined);
    await deleteRedisPrefix(REDIS, `fsv:${id}:`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
