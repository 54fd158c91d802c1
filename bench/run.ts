/**
 * Drives each read scenario with autocannon against the built api (and worker when AMQP_URL is
 * set) on the configured profile, next to a bare `node:http` server answering the same route with
 * the same bytes (the ceiling of any Node server here). Server processes are pinned to core 0, the
 * load generator (this process) to core 1.
 *
 *   npm run bench:seed && npm run bench [-- --duration 10 --warmup 3 --connections 50 --only latest --apis 2]
 *   (`--only a|b`: the scenarios whose name holds any of these texts)
 *   npm run bench -- --soak 10   (the mix at 70 % of its peak for 10 minutes: RSS and p99 per minute)
 *
 * --apis N starts N api processes (all on core 0, the same ceiling) and splits each api scenario's
 * connections evenly between them, one autocannon per api: req/s and totals are summed, p50 and
 * p99 are the worst of the N.
 *
 * Needs the dataset of bench/seed.ts (bench/results/seed-info.json). Prints req/s, p50, p99,
 * errors and the ratio to the bare server per scenario; writes bench/results/bench-<time>.json.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertPortsFree } from './processes';

interface AcRequest {
  method: 'POST' | 'GET';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: AcRequest, context: AcContext) => AcRequest;
  onResponse?: (status: number, body: string, context: AcContext) => void;
}
/** autocannon's per-connection context: one request in flight on a connection (no pipelining). */
interface AcContext {
  kind?: 'read' | 'like';
  sentAt?: number;
}
interface AcResult {
  /** A scenario with likes among its reads: each kind's p99 (ms), from the load's own timing. */
  p99ByKind?: { read: number; like: number };
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  '4xx'?: number;
  '5xx'?: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AcResult>;
const autocannon = createRequire(__filename)('autocannon') as Autocannon;

interface SeedInfo {
  password: string;
  following_users: { account_id: number; username: string; follows: number }[];
  max_video_id: number;
  time_range_ms: [number, number];
  max_likes_count: number;
  /** Tags `tag1`..`tag<n>` (absent in a dataset seeded before tags). */
  tags?: number;
  args: { accounts: number };
}

interface Scenario {
  name: string;
  target: 'api' | 'bare';
  requests: AcRequest[];
  /** Likes among the reads: the p99 of each kind is reported too ({@link timedByKind}). */
  likes?: boolean;
}

interface Row {
  scenario: string;
  req_per_s: number;
  p50_ms: number;
  /** For a scenario with likes: the reads' p99 and the likes' (ms). */
  p99_reads_ms?: number;
  p99_likes_ms?: number;
  p99_ms: number;
  errors: number;
  non2xx: number;
  total: number;
  ratio_to_bare: number | null;
  /**
   * CPU time per request (Linux /proc; null elsewhere): the api processes', the local database
   * server's, the local Redis server's.
   */
  api_cpu_us: number | null;
  db_cpu_us: number | null;
  redis_cpu_us: number | null;
  /** The load generator's (this process's, autocannon's) CPU time per request. */
  load_cpu_us: number;
  /**
   * The share of both cores left idle during the measured run (Linux `/proc/stat`; null
   * elsewhere). Near 0, every process (load, api, Redis, database) waits for a core.
   */
  host_idle_pct: number | null;
  /** The unmeasured first --warmup seconds (cache fills, compilation): req/s and p99; null without one. */
  warmup: { req_per_s: number; p99_ms: number } | null;
}

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
};
const DURATION = Number(opt('duration', '10'));
/**
 * --warmup S: each scenario first runs S seconds unmeasured (0: none). The first seconds of a
 * scenario fill its caches (a getDetail entry, an author's index) and compile its code; they are
 * printed on their own, and the measured run is the steady state that follows.
 */
const WARMUP = Number(opt('warmup', '3'));
const CONNECTIONS = Number(opt('connections', '50'));
const ONLY = opt('only', '');
const API_PORT = Number(opt('port', '38080'));
const BARE_PORT = API_PORT + 1;
const APIS = Number(opt('apis', '1'));
/** --soak N: instead of the scenarios, the mix for N minutes at 70 % of its peak (issue 14's soak). */
const SOAK_MINUTES = Number(opt('soak', '0'));
/**
 * --soak-warmup S: the mix unmeasured for S seconds before its peak is taken (default 30: its
 * getDetail ids, 20,000, are cached by then; a peak taken cold set the held rate by the misses).
 */
const SOAK_WARMUP = Number(opt('soak-warmup', '30'));
/** Api i listens on API_PORT (i = 0) or past the bare server's port. */
const apiPort = (i: number): number => (i === 0 ? API_PORT : BARE_PORT + i);
const DIST = join(__dirname, '..');
const JSON_HEADERS = { 'content-type': 'application/json' };

const rand = (n: number): number => Math.floor(Math.random() * n);
/** The newest videos one deep listLatest scenario stays within (the latest index's former default length). */
const NEWEST_RANGE = 20_000;
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

/** BENCH_NODE_ARGS: extra node flags for the servers (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`). */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

function startPinned(script: string, env: Record<string, string>, label: string): ChildProcess {
  const cmd = hasTaskset ? 'taskset' : process.execPath;
  const node = [...NODE_ARGS, script];
  const argv = hasTaskset ? ['-c', '0', process.execPath, ...node] : node;
  const child = spawn(cmd, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, sig) => {
    if (!stopping) console.error(`[bench] ${label} exited (${code ?? sig})`);
  });
  return child;
}

let stopping = false;

async function waitHealthy(port: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`api on port ${port} did not become healthy`);
}

async function post(path: string, body: unknown, token?: string): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { ...JSON_HEADERS };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`http://127.0.0.1:${API_PORT}${path}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

async function login(username: string, password: string): Promise<string> {
  const res = await post('/account/login', { username, password });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${res.text}`);
  return (JSON.parse(res.text) as { token: string }).token;
}

/** The bare ceiling: node:http, same route, same bytes and headers as the api's cache hit. */
function bareServerScript(dir: string, bodyFile: string): string {
  const file = join(dir, 'bare.js');
  writeFileSync(
    file,
    `const http = require('node:http');
const fs = require('node:fs');
const body = fs.readFileSync(${JSON.stringify(bodyFile)});
let seq = 0;
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'POST' && (req.url === '/feed/listLatest' || req.url === '/api/feed/listLatest')) {
      JSON.parse(Buffer.concat(chunks).toString() || '{}');
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length, 'x-request-id': 'bare-' + (++seq).toString(36) });
      res.end(body);
    } else if (req.url === '/healthz') { res.writeHead(200); res.end('{}'); }
    else { res.writeHead(404); res.end(); }
  });
}).listen(${BARE_PORT}, '127.0.0.1');
`,
  );
  return file;
}

/**
 * The scenario's requests, each timed by kind (a like, else a read) from the moment autocannon
 * builds it (just before it writes it) to its response: autocannon's own latency is one histogram
 * for all, so the p99 of a scenario with 10 % likes is mostly the likes' (each waits on its
 * transaction). `p99()` gives each kind's, in ms.
 */
function timedByKind(requests: AcRequest[]): {
  requests: AcRequest[];
  p99: () => { read: number; like: number };
} {
  const times = { read: [] as number[], like: [] as number[] };
  const timed = requests.map((r): AcRequest => ({
    ...r,
    setupRequest: (req, context) => {
      const out = r.setupRequest ? r.setupRequest(req, context) : req;
      context.kind = out.path === '/like/like' ? 'like' : 'read';
      context.sentAt = performance.now();
      return out;
    },
    onResponse: (_status, _body, context) => {
      if (context.kind !== undefined && context.sentAt !== undefined)
        times[context.kind].push(performance.now() - context.sentAt);
    },
  }));
  const p99 = (xs: number[]): number => {
    if (xs.length === 0) return 0;
    const sorted = Float64Array.from(xs).sort();
    return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]);
  };
  return { requests: timed, p99: () => ({ read: p99(times.read), like: p99(times.like) }) };
}

async function run(s: Scenario, duration = DURATION): Promise<AcResult> {
  const ports = s.target === 'bare' ? [BARE_PORT] : Array.from({ length: APIS }, (_, i) => apiPort(i));
  const byKind = s.likes ? timedByKind(s.requests) : undefined;
  const results = await Promise.all(
    ports.map((port, i) =>
      autocannon({
        url: `http://127.0.0.1:${port}`,
        // The remainder goes to the first ones, so the sum is CONNECTIONS.
        connections: Math.floor(CONNECTIONS / ports.length) + (i < CONNECTIONS % ports.length ? 1 : 0),
        duration,
        requests: byKind?.requests ?? s.requests,
      }),
    ),
  );
  if (byKind) results[0].p99ByKind = byKind.p99();
  if (results.length === 1) return results[0];
  const sum = (f: (r: AcResult) => number): number => results.reduce((n, r) => n + f(r), 0);
  const worst = (f: (r: AcResult) => number): number => Math.max(...results.map(f));
  return {
    requests: { average: sum((r) => r.requests.average), total: sum((r) => r.requests.total) },
    latency: {
      p50: worst((r) => r.latency.p50),
      p99: worst((r) => r.latency.p99),
      average:
        sum((r) => r.latency.average * r.requests.total) /
        Math.max(
          1,
          sum((r) => r.requests.total),
        ),
      max: worst((r) => r.latency.max),
    },
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    non2xx: sum((r) => r.non2xx),
    p99ByKind: results[0].p99ByKind,
  };
}

async function main(): Promise<void> {
  if (pinSelf()) return;
  const info = JSON.parse(
    readFileSync(join(process.cwd(), 'bench', 'results', 'seed-info.json'), 'utf8'),
  ) as SeedInfo;
  const env: Record<string, string> = {
    RATE_LIMITS: 'off',
    MAX_CONNECTIONS_PER_IP: '0',
    LOG_LEVEL: 'warn',
    PORT: String(API_PORT),
    NODE_ENV: 'production',
  };
  if (!process.env.JWT_SECRET) env.JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123';
  await assertPortsFree([BARE_PORT, ...Array.from({ length: APIS }, (_, i) => apiPort(i))]);
  const procs: ChildProcess[] = Array.from({ length: APIS }, (_, i) =>
    startPinned(join(DIST, 'apps/api/src/main.js'), { ...env, PORT: String(apiPort(i)) }, `api ${i}`),
  );
  if (process.env.AMQP_URL) procs.push(startPinned(join(DIST, 'apps/worker/src/main.js'), env, 'worker'));
  // The bare server's script and body, removed when the run ends.
  const bareDir = mkdtempSync(join(tmpdir(), 'fsv-bare-'));
  const stop = (): void => {
    stopping = true;
    for (const p of procs) p.kill('SIGTERM');
    rmSync(bareDir, { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    stop();
    process.exit(130);
  });
  try {
    for (let i = 0; i < APIS; i++) await waitHealthy(apiPort(i));
    const first = await post('/feed/listLatest', { limit: 10 });
    if (first.status !== 200) throw new Error(`listLatest: ${first.status} ${first.text}`);
    const bodyFile = join(bareDir, 'body.json');
    writeFileSync(bodyFile, first.text);
    procs.push(startPinned(bareServerScript(bareDir, bodyFile), {}, 'bare'));
    await waitHealthy(BARE_PORT);

    const tokens = new Map<number, string>();
    for (const u of info.following_users) tokens.set(u.follows, await login(u.username, info.password));
    // Likers for the read/like mix: accounts past the special ones.
    const likers: string[] = [];
    for (let i = 0; i < 50; i++) likers.push(await login(`user${100 + i}`, info.password));
    // Viewers of the logged-in pages: other accounts, so the mix's (and a soak's) likes do not push
    // them past the liked-set cap (5,000 likes), which would turn their `is_liked` into a query.
    const viewers: string[] = [];
    for (let i = 0; i < 50; i++) viewers.push(await login(`user${200 + i}`, info.password));
    const pop = JSON.parse((await post('/feed/listByPopularity', { limit: 10 })).text) as { as_of: number };

    // Where each following user's newest 800 videos begin (what a timeline of the default length holds).
    const recentFrom = new Map<number, number>();
    for (const u of info.following_users) {
      let cursor = { latest_time: 0, id_before: 0 };
      for (let page = 0; page < 16; page++) {
        const res = await post('/feed/listByFollowing', { limit: 50, ...cursor }, tokens.get(u.follows));
        const body = JSON.parse(res.text) as { next_time: number; next_id_before: number; has_more: boolean };
        cursor = { latest_time: body.next_time, id_before: body.next_id_before };
        if (!body.has_more) break;
      }
      recentFrom.set(u.follows, cursor.latest_time);
    }
    // Where the newest 20,000 videos begin (the latest index's default length until 2026-12-03; kept for comparison).
    let latestFrom = 0;
    {
      let cursor = { latest_time: 0, id_before: 0 };
      for (let page = 0; page < NEWEST_RANGE / 50; page++) {
        const res = await post('/feed/listLatest', { limit: 50, ...cursor });
        const body = JSON.parse(res.text) as { next_time: number; next_id_before: number; has_more: boolean };
        cursor = { latest_time: body.next_time, id_before: body.next_id_before };
        if (!body.has_more) break;
      }
      latestFrom = cursor.latest_time;
    }
    const [tMin, tMax] = info.time_range_ms;
    const randomTime = (): number => tMin + rand(tMax - tMin);
    const latestBody = JSON.stringify({ limit: 10 });
    const auth = (tok: string): Record<string, string> => ({
      ...JSON_HEADERS,
      authorization: `Bearer ${tok}`,
    });
    const randomize =
      (make: () => unknown) =>
      (req: AcRequest): AcRequest => ({ ...req, body: JSON.stringify(make()) });
    /** listByFollowing of the user with `follows` follows, at random cursors (`time()`, any id). */
    const followingCursors = (follows: number, what: string, time: () => number): Scenario => ({
      name: `listByFollowing, follows ${follows} (${what})`,
      target: 'api',
      requests: [
        {
          method: 'POST',
          path: '/feed/listByFollowing',
          headers: auth(tokens.get(follows) ?? ''),
          setupRequest: randomize(() => ({
            limit: 10,
            latest_time: time(),
            id_before: 1 + rand(info.max_video_id),
          })),
        },
      ],
    });

    const scenarios: Scenario[] = [
      {
        name: 'bare node:http (ceiling)',
        target: 'bare',
        requests: [{ method: 'POST', path: '/feed/listLatest', headers: JSON_HEADERS, body: latestBody }],
      },
      {
        name: 'listLatest anonymous first page (cache hit)',
        target: 'api',
        requests: [{ method: 'POST', path: '/feed/listLatest', headers: JSON_HEADERS, body: latestBody }],
      },
      {
        name: 'listLatest logged-in first page (cache hit + is_liked, 50 viewers)',
        target: 'api',
        requests: [
          {
            method: 'POST',
            path: '/feed/listLatest',
            headers: JSON_HEADERS,
            setupRequest: (req) => ({
              ...req,
              headers: auth(viewers[rand(viewers.length)]),
              body: latestBody,
            }),
          },
        ],
      },
      {
        name: 'listLikesCount anonymous first page',
        target: 'api',
        requests: [{ method: 'POST', path: '/feed/listLikesCount', headers: JSON_HEADERS, body: latestBody }],
      },
      {
        name: 'listLikesCount logged-in first page (is_liked, 50 viewers)',
        target: 'api',
        requests: [
          {
            method: 'POST',
            path: '/feed/listLikesCount',
            headers: JSON_HEADERS,
            setupRequest: (req) => ({
              ...req,
              headers: auth(viewers[rand(viewers.length)]),
              body: latestBody,
            }),
          },
        ],
      },
      {
        name: 'listByPopularity anonymous first page',
        target: 'api',
        requests: [
          { method: 'POST', path: '/feed/listByPopularity', headers: JSON_HEADERS, body: latestBody },
        ],
      },
      {
        name: 'listByPopularity logged-in first page (is_liked, 50 viewers)',
        target: 'api',
        requests: [
          {
            method: 'POST',
            path: '/feed/listByPopularity',
            headers: JSON_HEADERS,
            setupRequest: (req) => ({
              ...req,
              headers: auth(viewers[rand(viewers.length)]),
              body: latestBody,
            }),
          },
        ],
      },
      {
        name: 'listLatest deep pages (random cursors)',
        target: 'api',
        requests: [
          {
            method: 'POST',
            path: '/feed/listLatest',
            headers: JSON_HEADERS,
            setupRequest: randomize(() => ({
              limit: 10,
              latest_time: randomTime(),
              id_before: 1 + rand(info.max_video_id),
            })),
          },
        ],
      },
      {
        name: 'listLatest deep pages (random cursors in the newest 20,000)',
        target: 'api',
        requests: [
          {
            method: 'POST',
            path: '/feed/listLatest',
            headers: JSON_HEADERS,
            setupRequest: randomize(() => ({
              limit: 10,
              latest_time: latestFrom + rand(tMax + 1 - latestFrom),
              id_before: 1 + rand(info.max_video_id),
            })),
          },
        ],
      },
      {
        name: 'listLikesCount (first page + random cursors)',
        target: 'api',
        requests: [
          {
            method: 'POST',
            path: '/feed/listLikesCount',
            headers: JSON_HEADERS,
            setupRequest: randomize(() =>
              Math.random() < 0.2
                ? { limit: 10 }
                : {
                    limit: 10,
                    likes_count_before: rand(info.max_likes_count + 1),
                    id_before: 1 + rand(info.max_video_id),
                  },
            ),
          },
        ],
      },
      {
        name: 'listByPopularity through a snapshot (random offsets)',
        target: 'api',
        requests: [
          {
            method: 'POST',
            path: '/feed/listByPopularity',
            headers: JSON_HEADERS,
            setupRequest: randomize(() => ({ limit: 10, as_of: pop.as_of, offset: 10 * rand(50) })),
          },
        ],
      },
      {
        // Likes move the hot buckets, so the current minute's snapshot is rebuilt while it is read.
        name: 'listByPopularity first page under likes (90% / 10%)',
        target: 'api',
        likes: true,
        requests: [
          {
            method: 'POST',
            path: '/feed/listByPopularity',
            headers: JSON_HEADERS,
            setupRequest: (req) =>
              Math.random() < 0.1
                ? {
                    ...req,
                    path: '/like/like',
                    headers: auth(likers[rand(likers.length)]),
                    body: JSON.stringify({ video_id: 1 + rand(info.max_video_id) }),
                  }
                : { ...req, path: '/feed/listByPopularity', headers: JSON_HEADERS, body: latestBody },
          },
        ],
      },
      ...info.following_users.map((u): Scenario => ({
        name: `listByFollowing, follows ${u.follows} (first page, cached)`,
        target: 'api',
        requests: [
          {
            method: 'POST',
            path: '/feed/listByFollowing',
            headers: auth(tokens.get(u.follows) ?? ''),
            body: latestBody,
          },
        ],
      })),
      ...info.following_users.map((u) => followingCursors(u.follows, 'random cursors, uncached', randomTime)),
      ...info.following_users.map((u) => {
        const from = recentFrom.get(u.follows) ?? tMin;
        return followingCursors(
          u.follows,
          'random cursors in the newest 800, uncached',
          () => from + rand(tMax + 1 - from),
        );
      }),
      {
        name: 'getDetail (random ids)',
        target: 'api',
        requests: [
          {
            method: 'POST',
            path: '/video/getDetail',
            headers: JSON_HEADERS,
            setupRequest: randomize(() => ({ id: 1 + rand(Math.min(info.max_video_id, 20_000)) })),
          },
        ],
      },
      {
        name: 'listByAuthorID (random authors, first page)',
        target: 'api',
        requests: [
          {
            method: 'POST',
            path: '/video/listByAuthorID',
            headers: JSON_HEADERS,
            setupRequest: randomize(() => ({ author_id: 1 + rand(info.args.accounts), limit: 10 })),
          },
        ],
      },
      ...(info.tags
        ? [
            {
              name: 'listByTag (random tags, first page + random cursors)',
              target: 'api' as const,
              requests: [
                {
                  method: 'POST' as const,
                  path: '/feed/listByTag',
                  headers: JSON_HEADERS,
                  setupRequest: randomize(() =>
                    Math.random() < 0.2
                      ? { tag_name: `tag${1 + rand(info.tags ?? 1)}`, limit: 10 }
                      : {
                          tag_name: `tag${1 + rand(info.tags ?? 1)}`,
                          limit: 10,
                          latest_time: randomTime(),
                          id_before: 1 + rand(info.max_video_id),
                        },
                  ),
                },
              ],
            },
          ]
        : []),
      {
        name: 'mix 90% reads / 10% likes',
        target: 'api',
        likes: true,
        requests: [
          {
            method: 'POST',
            path: '/feed/listLatest',
            headers: JSON_HEADERS,
            setupRequest: (req) => {
              const r = Math.random();
              if (r < 0.1) {
                return {
                  ...req,
                  path: '/like/like',
                  headers: auth(likers[rand(likers.length)]),
                  body: JSON.stringify({ video_id: 1 + rand(info.max_video_id) }),
                };
              }
              if (r < 0.5)
                return {
                  ...req,
                  path: '/video/getDetail',
                  headers: JSON_HEADERS,
                  body: JSON.stringify({ id: 1 + rand(20_000) }),
                };
              return { ...req, path: '/feed/listLatest', headers: JSON_HEADERS, body: latestBody };
            },
          },
        ],
      },
    ];

    if (SOAK_MINUTES > 0) {
      const mix = scenarios.find((s) => s.name.startsWith('mix'));
      if (!mix) throw new Error('no mix scenario');
      await soak(mix, procs);
      return;
    }
    const rows: Row[] = [];
    let bare = 0;
    for (const s of scenarios) {
      if (ONLY && s.target !== 'bare' && !ONLY.split('|').some((o) => s.name.includes(o))) continue;
      const apiPids = procs.slice(0, APIS).map((p) => p.pid);
      const dbPid = databaseServerPid();
      const redisPid = redisServerPid();
      const warm = WARMUP > 0 ? await run(s, WARMUP) : null;
      const before = [cpuMs(apiPids), cpuMs([dbPid]), cpuMs([redisPid])];
      const idleBefore = hostTicks();
      const loadBefore = process.cpuUsage();
      const r = await run(s);
      const load = process.cpuUsage(loadBefore);
      const after = [cpuMs(apiPids), cpuMs([dbPid]), cpuMs([redisPid])];
      const idleAfter = hostTicks();
      const perRequest = (i: number): number | null =>
        Number.isNaN(after[i] - before[i]) || r.requests.total === 0 || s.target === 'bare'
          ? null
          : Math.round(((after[i] - before[i]) * 1000) / r.requests.total);
      if (s.target === 'bare') bare = r.requests.average;
      const row: Row = {
        scenario: s.name,
        req_per_s: Math.round(r.requests.average),
        p50_ms: r.latency.p50,
        p99_ms: r.latency.p99,
        errors: r.errors + r.timeouts,
        non2xx: r.non2xx,
        total: r.requests.total,
        ratio_to_bare: bare ? Math.round((r.requests.average / bare) * 1000) / 1000 : null,
        api_cpu_us: perRequest(0),
        db_cpu_us: perRequest(1),
        redis_cpu_us: perRequest(2),
        load_cpu_us: r.requests.total === 0 ? 0 : Math.round((load.user + load.system) / r.requests.total),
        host_idle_pct: idleShare(idleBefore, idleAfter),
        warmup: warm && { req_per_s: Math.round(warm.requests.average), p99_ms: warm.latency.p99 },
        ...(r.p99ByKind && { p99_reads_ms: r.p99ByKind.read, p99_likes_ms: r.p99ByKind.like }),
      };
      rows.push(row);
      console.log(
        `${row.scenario.padEnd(58)} ${String(row.req_per_s).padStart(7)} req/s  p50 ${String(row.p50_ms).padStart(4)} ms  p99 ${String(row.p99_ms).padStart(4)} ms  errors ${row.errors}  non2xx ${row.non2xx}  ratio ${row.ratio_to_bare ?? '-'}  cpu µs/req api ${row.api_cpu_us ?? '-'} db ${row.db_cpu_us ?? '-'} redis ${row.redis_cpu_us ?? '-'} load ${row.load_cpu_us}  idle ${row.host_idle_pct ?? '-'} %${row.p99_reads_ms === undefined ? '' : `  p99 reads ${row.p99_reads_ms} ms, likes ${row.p99_likes_ms} ms`}${row.warmup ? `  (warm-up ${row.warmup.req_per_s} req/s p99 ${row.warmup.p99_ms} ms)` : ''}`,
      );
    }
    const dir = join(process.cwd(), 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const out = join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      out,
      JSON.stringify(
        {
          at: new Date().toISOString(),
          duration_s: DURATION,
          warmup_s: WARMUP,
          connections: CONNECTIONS,
          apis: APIS,
          pinned: hasTaskset,
          database: process.env.DATABASE_URL ? 'mysql' : 'sqlite',
          redis: Boolean(process.env.REDIS_URL),
          amqp: Boolean(process.env.AMQP_URL),
          rows,
        },
        null,
        2,
      ),
    );
    console.log(`[bench] results in ${out}`);
  } finally {
    stop();
  }
}

/** User + system CPU of the processes in ms (Linux /proc; clock ticks of 10 ms), NaN elsewhere. */
function cpuMs(pids: (number | undefined)[]): number {
  let ms = 0;
  for (const pid of pids) {
    try {
      // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ms += (Number(f[11]) + Number(f[12])) * 10;
    } catch {
      return Number.NaN;
    }
  }
  return ms;
}

/** The local MySQL/MariaDB server's pid (Linux /proc), when `DATABASE_URL` names this host; else undefined. */
function databaseServerPid(): number | undefined {
  const url = process.env.DATABASE_URL;
  if (!url || !/@(127\.0\.0\.1|localhost)[:/]/.test(url)) return undefined;
  return localServerPid(['mariadbd', 'mysqld']);
}

/** The local Redis server's pid (Linux /proc), when `REDIS_URL` names this host; else undefined. */
function redisServerPid(): number | undefined {
  const url = process.env.REDIS_URL;
  if (!url || !/\/\/([^@/]*@)?(127\.0\.0\.1|localhost)[:/]/.test(url)) return undefined;
  return localServerPid(['redis-server']);
}

/** The first process (Linux /proc) whose command is one of `names`; undefined when none or elsewhere. */
function localServerPid(names: string[]): number | undefined {
  try {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (names.includes(comm)) return Number(pid);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** The host's idle and total clock ticks over all cores (Linux `/proc/stat`), or null elsewhere. */
function hostTicks(): { idle: number; total: number } | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const ticks = f.slice(0, 8);
    return { idle: ticks[3] + ticks[4], total: ticks.reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

/** Idle share in % between two {@link hostTicks} readings, or null. */
function idleShare(
  a: { idle: number; total: number } | null,
  b: { idle: number; total: number } | null,
): number | null {
  if (!a || !b || b.total <= a.total) return null;
  return Math.round(((b.idle - a.idle) * 100) / (b.total - a.total));
}

/** VmRSS of a process in MiB (Linux /proc), NaN elsewhere. */
function rssMiB(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * The soak: the mix unthrottled for SOAK_WARMUP seconds (not counted), then for DURATION seconds
 * (its peak), then SOAK_MINUTES one-minute runs
 * at 70 % of that rate, back to back. Prints per minute the rate held, p99 and the RSS of the api
 * and the worker (sampled every 5 s: the minute's mean, and its range), then the two checks of issue 14:
 * RSS growth after the first minute (warm-up) and the last minute's p99 against the first's.
 */
async function soak(mix: Scenario, procs: ChildProcess[]): Promise<void> {
  const [api, worker] = [procs[0], process.env.AMQP_URL ? procs[APIS] : undefined];
  if (SOAK_WARMUP > 0) {
    const warm = await run(mix, SOAK_WARMUP);
    console.log(
      `soak: warm-up ${SOAK_WARMUP} s at ${Math.round(warm.requests.average)} req/s (p99 ${warm.latency.p99} ms), not counted`,
    );
  }
  const peak = await run(mix);
  const rate = Math.round(peak.requests.average * 0.7);
  console.log(
    `soak: peak ${Math.round(peak.requests.average)} req/s (p99 ${peak.latency.p99} ms); holding ${rate} req/s for ${SOAK_MINUTES} min`,
  );
  const minutes: {
    reqs: number;
    p99: number;
    errors: number;
    non2xx: number;
    apiMiB: number;
    workerMiB: number;
    apiFloor: number;
    workerFloor: number;
  }[] = [];
  for (let m = 1; m <= SOAK_MINUTES; m++) {
    const samples: [number, number][] = [];
    const timer = setInterval(() => samples.push([rssMiB(api?.pid), rssMiB(worker?.pid)]), 5000);
    const r = await autocannon({
      url: `http://127.0.0.1:${API_PORT}`,
      connections: CONNECTIONS,
      duration: 60,
      overallRate: rate,
      requests: mix.requests,
    });
    clearInterval(timer);
    if (samples.length === 0) samples.push([rssMiB(api?.pid), rssMiB(worker?.pid)]);
    const mean = (i: 0 | 1): number =>
      Math.round((samples.reduce((n, s) => n + s[i], 0) / samples.length) * 10) / 10;
    const range = (i: 0 | 1): string =>
      `${Math.min(...samples.map((s) => s[i]))}–${Math.max(...samples.map((s) => s[i]))}`;
    minutes.push({
      reqs: Math.round(r.requests.average),
      p99: r.latency.p99,
      errors: r.errors + r.timeouts,
      non2xx: r.non2xx,
      apiMiB: mean(0),
      workerMiB: mean(1),
      apiFloor: Math.min(...samples.map((x) => x[0])),
      workerFloor: Math.min(...samples.map((x) => x[1])),
    });
    const row = minutes[minutes.length - 1];
    console.log(
      `soak minute ${String(m).padStart(2)}: ${row.reqs} req/s  p99 ${row.p99} ms  errors ${row.errors}  non2xx ${row.non2xx}  ` +
        `RSS (mean of 5 s samples; range) api ${row.apiMiB} MiB (${range(0)})  ` +
        (worker ? `worker ${row.workerMiB} MiB (${range(1)})` : 'worker - (none runs without a broker)'),
    );
  }
  const first = minutes[0];
  const last = minutes[minutes.length - 1];
  const growth = (a: number, b: number): string => `${(((b - a) / a) * 100).toFixed(1)} %`;
  console.log(
    `soak: RSS growth after minute 1 (means): api ${growth(first.apiMiB, last.apiMiB)}` +
      (worker ? `, worker ${growth(first.workerMiB, last.workerMiB)}` : '') +
      `; (floors, after collections): api ${growth(first.apiFloor, last.apiFloor)}` +
      (worker ? `, worker ${growth(first.workerFloor, last.workerFloor)}` : '') +
      ' (target < 10 %); ' +
      `last minute's p99 ${last.p99} ms vs the first's ${first.p99} ms: ${growth(first.p99, last.p99)} (target within 20 %)`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  stopping = true;
  process.exit(1);
});
