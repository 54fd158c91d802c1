/**
 * Notification streams of the built server (`npm run build:server && npm run bench:sse`).
 *
 * Starts the api (and, with `--profile broker`, the worker) on private resources: a MariaDB
 * database, a Redis key prefix and a RabbitMQ vhost, all dropped afterwards (`--profile embedded`:
 * SQLite and the in-process cache in a temporary DATA_DIR, no broker). The api is pinned to core
 * 0 and this process (the clients) to core 1 when `taskset` is there. Then:
 *
 *   1. idle streams: the api's RSS and CPU per second with no stream, then with `--streams N`
 *      (default 1,000) open `GET /notification/stream` connections, 5 per account (the cap), for
 *      `--idle-seconds` (default 60: two keep-alive rounds, which also re-register the streams
 *      in Redis for the cap); RSS per stream, CPU %, and the bytes each stream received (the
 *      keep-alives);
 *   2. delivery latency under load: with the idle streams still open, a 90/10 read/like mix
 *      (`listLatest` and `getDetail` reads; likes of the authors' videos, each a new (liker,
 *      video) pair so each notifies) from `--connections` clients (default 32) for
 *      `--mix-seconds` (default 20). Each author has one more stream open; for every like the
 *      time from its 200 to the notification event on the author's stream (and from sending the
 *      like) is recorded: p50, p99, max, and how many never arrived within 5 s.
 *
 * Options: --profile embedded|full|broker (default broker), --streams N, --idle-seconds N,
 * --mix-seconds N, --connections N, --authors N (default 50), --likers N (default 100).
 * MYSQL_URL, REDIS_URL, AMQP_URL (without vhost) name the servers (defaults: localhost).
 * The api runs with MAX_CONNECTIONS_PER_IP=0: every stream comes from 127.0.0.1. Prints one
 * table per phase and writes bench/results/sse-<time>.json.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request, type ClientRequest } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { postJson, type JsonReply } from './http';
import { assertPortsFree } from './processes';
import { createConnection } from 'mysql2/promise';

const run = promisify(execFile);
/** The repository (results, node_modules): the bench runs from it; the build is the one this file belongs to. */
const ROOT = process.cwd();
const DIST = join(__dirname, '..');
const MYSQL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const AMQP = new URL(process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');

const args = process.argv.slice(2);
function opt(name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
}
const PROFILE = opt('profile', 'broker') as 'embedded' | 'full' | 'broker';
const STREAMS = Number(opt('streams', '1000'));
const IDLE_SECONDS = Number(opt('idle-seconds', '60'));
const MIX_SECONDS = Number(opt('mix-seconds', '20'));
const CONNECTIONS = Number(opt('connections', '32'));
const AUTHORS = Number(opt('authors', '50'));
const LIKERS = Number(opt('likers', '100'));
const PORT = Number(opt('port', '38090'));
const PER_ACCOUNT = 5;
const PASSWORD = 'bench-password';
const DELIVERY_TIMEOUT_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const hasTaskset = spawnSync('taskset', ['-V']).status === 0 && cpus().length >= 2;

/** Re-executes this script pinned to core 1, once. */
function pinSelf(): boolean {
  if (!hasTaskset || process.env.BENCH_PINNED === '1') return false;
  const child = spawn('taskset', ['-c', '1', process.execPath, __filename, ...args], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_PINNED: '1' },
  });
  child.on('exit', (code) => process.exit(code ?? 1));
  return true;
}

/** A built process on core 0 (taskset execs node: the pid is node's). */
function startPinned(script: string, env: Record<string, string>, ipc = false): ChildProcess {
  const cmd = hasTaskset ? 'taskset' : process.execPath;
  const argv = hasTaskset ? ['-c', '0', process.execPath, script] : [script];
  return spawn(cmd, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', ...(ipc ? (['ipc'] as const) : [])],
  });
}

async function stop(p: ChildProcess | null): Promise<void> {
  if (!p || p.exitCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await Promise.race([gone, sleep(15_000)]);
  if (p.exitCode === null) p.kill('SIGKILL');
}

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS + 8 });

function post(path: string, body: unknown, token?: string): Promise<JsonReply> {
  return postJson(`http://127.0.0.1:${PORT}${path}`, body, agent, token);
}

async function healthy(timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if ((await fetch(`http://127.0.0.1:${PORT}/healthz`)).status === 200) return;
    } catch {
      /* not up yet */
    }
    await sleep(250);
  }
  throw new Error('the api did not become healthy');
}

interface Account {
  id: number;
  token: string;
}

async function account(name: string): Promise<Account> {
  const reg = await post('/account/register', { username: name, password: PASSWORD });
  if (reg.status !== 200) throw new Error(`register ${name}: ${reg.status} ${JSON.stringify(reg.json)}`);
  const login = await post('/account/login', { username: name, password: PASSWORD });
  if (login.status !== 200) throw new Error(`login ${name}: ${login.status}`);
  return { id: Number(reg.json.id), token: String(login.json.token) };
}

/** `n` accounts, registered a few at a time (each costs two bcrypt rounds on the server). */
async function accounts(prefix: string, n: number): Promise<Account[]> {
  const out: Account[] = [];
  for (let i = 0; i < n; i += 8) {
    const batch = Array.from({ length: Math.min(8, n - i) }, (_, k) => account(`${prefix}${i + k}`));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** One open stream: counts the bytes it receives and hands each notification to `onEvent`. */
interface OpenStream {
  bytes: number;
  closed: boolean;
  req: ClientRequest;
}

function openStream(token: string, onEvent?: (data: string, at: number) => void): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const s: OpenStream = { bytes: 0, closed: false, req: undefined as unknown as ClientRequest };
    s.req = request(
      { host: '127.0.0.1', port: PORT, path: `/notification/stream?token=${token}`, agent: false },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`stream: ${res.statusCode}`));
          res.resume();
          return;
        }
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const at = performance.now();
          s.bytes += Buffer.byteLength(chunk);
          if (!onEvent) return;
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (!block.includes('event: notification')) continue;
            const data = block.split('\n').find((l) => l.startsWith('data: '));
            if (data) onEvent(data.slice(6), at);
          }
        });
        res.on('close', () => (s.closed = true));
        resolve(s);
      },
    );
    s.req.on('error', (err) => {
      s.closed = true;
      reject(err);
    });
    s.req.end();
  });
}

/** CPU seconds (user + system) and RSS (MiB) of a process, from /proc. */
function usage(pid: number): { cpu: number; rssMiB: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(f[11]) + Number(f[12])) / 100;
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpu, rssMiB: rss ? Number(rss[1]) / 1024 : 0 };
  } catch {
    return { cpu: 0, rssMiB: 0 };
  }
}

/** Samples the process once a second for `seconds`: CPU % per second (avg, max) and RSS. */
async function sample(
  pid: number,
  seconds: number,
): Promise<{ cpuAvg: number; cpuMax: number; rssMiB: number }> {
  const per: number[] = [];
  let last = usage(pid);
  let lastAt = performance.now();
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    const now = usage(pid);
    const at = performance.now();
    per.push(((now.cpu - last.cpu) / ((at - lastAt) / 1000)) * 100);
    last = now;
    lastAt = at;
  }
  return {
    cpuAvg: per.reduce((a, b) => a + b, 0) / Math.max(1, per.length),
    cpuMax: Math.max(0, ...per),
    rssMiB: usage(pid).rssMiB,
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function main(): Promise<void> {
  if (pinSelf()) return;
  const id = `sse${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  await assertPortsFree([PORT]);
  const dataDir = mkdtempSync(join(tmpdir(), `fsv-${id}-`));
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    JWT_SECRET: process.env.JWT_SECRET ?? 'bench-secret-bench-secret-bench-secret-0123',
    PORT: String(PORT),
    DATA_DIR: dataDir,
    RATE_LIMITS: 'off',
    MAX_CONNECTIONS_PER_IP: '0',
    LOG_LEVEL: 'warn',
    NODE_PATH: join(ROOT, 'node_modules'),
  };
  const db = `fsv_${id}`;
  const admin = PROFILE === 'embedded' ? null : await createConnection(MYSQL);
  if (admin) {
    await admin.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    env.DATABASE_URL = `${MYSQL}/${db}`;
    env.REDIS_URL = REDIS;
    env.REDIS_KEY_PREFIX = `fsv:${id}:`;
  }
  const vhost = `fsv_${id}`;
  if (PROFILE === 'broker') {
    await run('rabbitmqctl', ['-q', 'add_vhost', vhost]);
    await run('rabbitmqctl', [
      '-q',
      'set_permissions',
      '-p',
      vhost,
      AMQP.username || 'guest',
      '.*',
      '.*',
      '.*',
    ]);
    env.AMQP_URL = `${AMQP.protocol}//${AMQP.username}:${AMQP.password}@${AMQP.host}/${vhost}`;
  }
  let api: ChildProcess | null = null;
  let worker: ChildProcess | null = null;
  const streams: OpenStream[] = [];
  const report: Record<string, unknown> = {
    profile: PROFILE,
    streams: STREAMS,
    cores: cpus().length,
    pinned: hasTaskset,
  };
  try {
    api = startPinned(join(DIST, 'apps/api/src/main.js'), env);
    await healthy();
    if (PROFILE === 'broker') {
      worker = startPinned(join(DIST, 'apps/worker/src/main.js'), env, true);
      await new Promise<void>((resolve, reject) => {
        worker!.on('message', (m: { type?: string }) => m?.type === 'ready' && resolve());
        worker!.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
      });
    }
    const apiPid = api.pid!;

    console.log(
      `profile ${PROFILE}: registering ${Math.ceil(STREAMS / PER_ACCOUNT)} idle accounts, ${AUTHORS} authors, ${LIKERS} likers…`,
    );
    const idle = await accounts(`${id}i`, Math.ceil(STREAMS / PER_ACCOUNT));
    const authors = await accounts(`${id}a`, AUTHORS);
    const likers = await accounts(`${id}l`, LIKERS);
    const videos: { id: number; author: number }[] = [];
    for (const a of authors) {
      const v = await post(
        '/video/publish',
        { title: 'bench clip', play_url: '/static/bench.mp4', cover_url: '/static/bench.jpg' },
        a.token,
      );
      if (v.status !== 200) throw new Error(`publish: ${v.status}`);
      videos.push({ id: Number(v.json.id), author: a.id });
    }

    // Phase 1: idle streams (after a pause: registering left garbage for the collector).
    await sleep(10_000);
    const before = await sample(apiPid, 10);
    for (let i = 0; i < STREAMS; i += 50) {
      const batch = Array.from({ length: Math.min(50, STREAMS - i) }, (_, k) =>
        openStream(idle[Math.floor((i + k) / PER_ACCOUNT)].token),
      );
      streams.push(...(await Promise.all(batch)));
    }
    await sleep(5000);
    const open = await sample(apiPid, IDLE_SECONDS);
    const stillOpen = streams.filter((s) => !s.closed).length;
    const bytes = streams.reduce((n, s) => n + s.bytes, 0) / Math.max(1, streams.length);
    const idleRow = {
      rss_mib_before: +before.rssMiB.toFixed(1),
      rss_mib_with_streams: +open.rssMiB.toFixed(1),
      kib_per_stream: +(((open.rssMiB - before.rssMiB) * 1024) / STREAMS).toFixed(1),
      cpu_pct_before_avg: +before.cpuAvg.toFixed(2),
      cpu_pct_idle_streams_avg: +open.cpuAvg.toFixed(2),
      cpu_pct_idle_streams_max: +open.cpuMax.toFixed(2),
      streams_open: stillOpen,
      bytes_per_stream: Math.round(bytes),
    };
    report.idle = idleRow;
    console.log(`\n1. ${STREAMS} idle streams for ${IDLE_SECONDS} s (api pid ${apiPid})`);
    console.table(idleRow);

    // Phase 2: delivery latency under the 90/10 read/like mix.
    const sentAt = new Map<string, { sent: number; answered: number }>();
    const arrived = new Map<string, number>();
    for (const a of authors) {
      streams.push(
        await openStream(a.token, (data, at) => {
          const n = JSON.parse(data) as { type: string; actor: { id: number }; video_id: number };
          if (n.type === 'like') arrived.set(`${n.actor.id}:${n.video_id}`, at);
        }),
      );
    }
    await sleep(1000);
    const pairs: { liker: Account; video: number }[] = [];
    for (const l of likers) for (const v of videos) pairs.push({ liker: l, video: v.id });
    for (let i = pairs.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [pairs[i], pairs[j]] = [pairs[j], pairs[i]];
    }
    let next = 0;
    const counts = { reads: 0, likes: 0, failed: 0 };
    const cpu0 = usage(apiPid).cpu;
    const t0 = performance.now();
    const end = Date.now() + MIX_SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (Date.now() < end) {
          const r = Math.random();
          if (r < 0.1 && next < pairs.length) {
            const p = pairs[next++];
            const sent = performance.now();
            const res = await post('/like/like', { video_id: p.video }, p.liker.token);
            if (res.status === 200) {
              sentAt.set(`${p.liker.id}:${p.video}`, { sent, answered: performance.now() });
              counts.likes++;
            } else counts.failed++;
          } else {
            const res =
              r < 0.5
                ? await post('/video/getDetail', { id: videos[Math.floor(Math.random() * videos.length)].id })
                : await post('/feed/listLatest', { limit: 10 });
            if (res.status === 200) counts.reads++;
            else counts.failed++;
          }
        }
      }),
    );
    const mixSeconds = (performance.now() - t0) / 1000;
    const mixCpu = ((usage(apiPid).cpu - cpu0) / mixSeconds) * 100;
    await sleep(DELIVERY_TIMEOUT_MS);
    const fromAnswer: number[] = [];
    const fromSend: number[] = [];
    let missing = 0;
    for (const [key, t] of sentAt) {
      const at = arrived.get(key);
      if (at === undefined || at - t.answered > DELIVERY_TIMEOUT_MS) {
        missing++;
        continue;
      }
      fromAnswer.push(Math.max(0, at - t.answered));
      fromSend.push(at - t.sent);
    }
    fromAnswer.sort((a, b) => a - b);
    fromSend.sort((a, b) => a - b);
    const mixRow = {
      seconds: +mixSeconds.toFixed(1),
      req_per_s: Math.round((counts.reads + counts.likes) / mixSeconds),
      likes: counts.likes,
      failed: counts.failed,
      api_cpu_pct: +mixCpu.toFixed(1),
      latency_from_200_p50_ms: +percentile(fromAnswer, 0.5).toFixed(1),
      latency_from_200_p99_ms: +percentile(fromAnswer, 0.99).toFixed(1),
      latency_from_200_max_ms: +(fromAnswer.at(-1) ?? 0).toFixed(1),
      latency_from_send_p50_ms: +percentile(fromSend, 0.5).toFixed(1),
      latency_from_send_p99_ms: +percentile(fromSend, 0.99).toFixed(1),
      not_delivered_within_5s: missing,
      idle_streams_still_open: streams.slice(0, STREAMS).filter((s) => !s.closed).length,
    };
    report.mix = mixRow;
    console.log(`\n2. like → stream latency under the 90/10 read/like mix (${CONNECTIONS} connections)`);
    console.table(mixRow);
    const out = join(ROOT, 'bench', 'results');
    mkdirSync(out, { recursive: true });
    const file = join(out, `sse-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(report, null, 2));
    console.log(`\nwrote ${file}`);
  } finally {
    for (const s of streams) s.req.destroy();
    agent.destroy();
    await stop(worker);
    await stop(api);
    rmSync(dataDir, { recursive: true, force: true });
    if (admin) {
      await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
      await admin.end();
      const redis = new Redis(REDIS);
      let cursor = '0';
      do {
        const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `fsv:${id}:*`, 'COUNT', 1000);
        cursor = nextCursor;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
      redis.disconnect();
    }
    if (PROFILE === 'broker') await run('rabbitmqctl', ['-q', 'delete_vhost', vhost]).catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
