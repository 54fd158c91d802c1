/**
 * Two builds of the api measured side by side, at the same moment, on the same core: this
 * checkout's `dist/` and another checkout's (`--against DIR`, built with `npm run build:server`),
 * both pinned to core 0 and both on the configured profile and dataset (bench/seed.ts), each driven
 * by half the connections from core 1 at once. Whatever the host does during a run (this one's
 * speed drifted 2–3× within minutes) it does to both, so their ratio is the comparison; one build
 * against itself measured 1.00–1.02.
 *
 *   npm run bench:pair -- --against /tmp/old [--scenario latest-deep] [--duration 8] [--rounds 3] [--follows 10]
 *     [--this-node-args "--flag=v …"] [--other-node-args "…"]   (`--against .`: one build, two flag sets)
 *     [--own-prefixes]   (each api its own Redis key prefix, `<REDIS_KEY_PREFIX>pair-this:` / `pair-other:`,
 *                         so neither reads what the other cached: cold-cache paths compared fairly;
 *                         the keys are deleted at the end)
 *
 * Scenarios: `latest-deep` (listLatest at random cursors over the whole dataset), `latest-index`
 * (random cursors in its newest tenth; `latest-index-viewer`: the same, logged in as the `--follows`
 * user, with `is_liked`), `detail` (getDetail of the first 20,000 ids), `author`
 * (listByAuthorID first pages), `following` (listByFollowing at random cursors as the user who
 * follows 10 authors, or `--follows N` of bench/seed.ts's 10, 200, 2000), `following-first`,
 * `latest-viewer`, `popularity-viewer` and `likes-viewer` (that user's first pages of those feeds), `mix` (`npm run bench`'s
 * read/like mix: 10 % likes by 50 accounts, 40 % getDetail, 50 % the listLatest first page; its
 * p99 is the likes', which wait on a transaction; repeated likes answer 409). A 5 s warm-up of both precedes the rounds; each round prints both rates,
 * p99 and this build's rate over the other's.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { assertPortsFree, ROOT, sleep } from './processes';

interface AcRequest {
  method: 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
  setupRequest?: (req: AcRequest) => AcRequest;
}
interface AcResult {
  requests: { average: number };
  latency: { p99: number };
  errors: number;
  non2xx: number;
}
const autocannon = createRequire(__filename)('autocannon') as (
  o: Record<string, unknown>,
) => Promise<AcResult>;

const argv = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
const AGAINST = opt('against', '');
const SCENARIO = opt('scenario', 'latest-deep');
const DURATION = Number(opt('duration', '8'));
const ROUNDS = Number(opt('rounds', '3'));
const CONNECTIONS = Number(opt('connections', '50'));
const FOLLOWS = Number(opt('follows', '10'));
/** Node flags for each api (e.g. `--this-node-args --max-semi-space-size=32`, both on one build). */
const nodeArgs = (name: string): string[] => opt(name, '').split(' ').filter(Boolean);
const OTHER_NODE_ARGS = nodeArgs('other-node-args');
const THIS_NODE_ARGS = nodeArgs('this-node-args');
/** Each api its own key prefix (a cold cache each): `--own-prefixes`. */
const OWN_PREFIXES = argv.includes('--own-prefixes');
const BASE_PREFIX = process.env.REDIS_KEY_PREFIX ?? '';
const prefixOf = (who: 'this' | 'other'): string | undefined =>
  OWN_PREFIXES ? `${BASE_PREFIX}pair-${who}:` : undefined;
/** Each scenario, and whether it reads as a viewer (the seed's user with `--follows` follows) or anonymously. */
const SCENARIOS: Readonly<Record<string, 'viewer' | 'anonymous'>> = {
  'latest-deep': 'anonymous',
  'latest-index': 'anonymous',
  'latest-index-viewer': 'viewer',
  detail: 'anonymous',
  author: 'anonymous',
  following: 'viewer',
  'following-first': 'viewer',
  'latest-viewer': 'viewer',
  'popularity-viewer': 'viewer',
  'likes-viewer': 'viewer',
  mix: 'anonymous',
  'popularity-likes': 'anonymous',
};
const entry = (root: string): string => join(root, 'dist/apps/api/src/main.js');

/** Every option checked before anything starts. */
function optionsProblem(): string | undefined {
  if (AGAINST === '' || AGAINST.startsWith('--')) return '--against DIR: a checkout of the other build';
  if (!existsSync(entry(AGAINST))) return `${entry(AGAINST)} not found: run npm run build:server there`;
  if (!existsSync(entry(ROOT))) return `${entry(ROOT)} not found: run npm run build:server`;
  if (!Object.hasOwn(SCENARIOS, SCENARIO)) return `--scenario: one of ${Object.keys(SCENARIOS).join(', ')}`;
  for (const [name, v, min] of [
    ['duration', DURATION, 1],
    ['rounds', ROUNDS, 1],
    ['connections', CONNECTIONS, 2],
  ] as const) {
    if (!Number.isInteger(v) || v < min) return `--${name}: an integer of at least ${min}`;
  }
  return undefined;
}
const PORTS = [38090, 38091];
const hasTaskset = spawnSync('taskset', ['-V']).status === 0 && cpus().length >= 2;
const rand = (n: number): number => Math.floor(Math.random() * n);

interface SeedInfo {
  password: string;
  following_users: { username: string; follows: number }[];
  max_video_id: number;
  time_range_ms: [number, number];
  args: { accounts: number };
}

/** Set when an api exits before the end (e.g. its port was taken): the run stops with it. */
let died: string | undefined;
let stopping = false;

function startApi(root: string, port: number, flags: string[], prefix?: string): ChildProcess {
  const node = [process.execPath, ...flags, entry(root)];
  const [cmd, ...rest] = hasTaskset ? ['taskset', '-c', '0', ...node] : node;
  return spawn(cmd, rest, {
    env: {
      ...process.env,
      RATE_LIMITS: 'off',
      MAX_CONNECTIONS_PER_IP: '0',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      PORT: String(port),
      JWT_SECRET: process.env.JWT_SECRET ?? 'bench-secret-bench-secret-bench-secret-0123',
      ...(prefix !== undefined ? { REDIS_KEY_PREFIX: prefix } : {}),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  }).on('exit', (code, signal) => {
    if (!stopping) died = `the api of ${root} on port ${port} exited (${code ?? signal})`;
  });
}

async function healthy(port: number): Promise<void> {
  for (let i = 0; i < 240; i++) {
    if (died !== undefined) throw new Error(died);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) return;
    } catch {
      // not up yet
    }
    await sleep(250);
  }
  throw new Error(`api on port ${port} did not become healthy`);
}

/** A request's path, body and, for a like of the mix, the liker's token. */
type Next = () => [string, unknown, string?];

async function login(username: string, password: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${PORTS[0]}/account/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  return ((await res.json()) as { token: string }).token;
}

async function requestsOf(info: SeedInfo): Promise<Next> {
  const [tMin, tMax] = info.time_range_ms;
  const cursor = (from: number): { limit: number; latest_time: number; id_before: number } => ({
    limit: 10,
    latest_time: from + rand(tMax - from),
    id_before: 1 + rand(info.max_video_id),
  });
  switch (SCENARIO) {
    case 'latest-deep':
      return () => ['/feed/listLatest', cursor(tMin)];
    case 'latest-index':
    case 'latest-index-viewer':
      return () => ['/feed/listLatest', cursor(tMax - Math.floor((tMax - tMin) / 10))];
    case 'detail':
      return () => ['/video/getDetail', { id: 1 + rand(Math.min(20_000, info.max_video_id)) }];
    case 'author':
      return () => ['/video/listByAuthorID', { author_id: 1 + rand(info.args.accounts) }];
    case 'following':
      return () => ['/feed/listByFollowing', cursor(tMin)];
    case 'latest-viewer':
      return () => ['/feed/listLatest', { limit: 10 }];
    case 'following-first':
      return () => ['/feed/listByFollowing', { limit: 10 }];
    case 'popularity-viewer':
      return () => ['/feed/listByPopularity', { limit: 10 }];
    case 'likes-viewer':
      return () => ['/feed/listLikesCount', { limit: 10 }];
    case 'popularity-likes': {
      // npm run bench's "listByPopularity first page under likes": 90 % the anonymous first page, 10 % likes.
      const likers: string[] = [];
      for (let i = 0; i < 50; i++) likers.push(await login(`user${100 + i}`, info.password));
      return () =>
        Math.random() < 0.1
          ? ['/like/like', { video_id: 1 + rand(info.max_video_id) }, likers[rand(likers.length)]]
          : ['/feed/listByPopularity', { limit: 10 }];
    }
    case 'mix': {
      // npm run bench's mix: 10 % likes of random videos by 50 accounts, 40 % getDetail, 50 % the latest first page.
      const likers: string[] = [];
      for (let i = 0; i < 50; i++) likers.push(await login(`user${100 + i}`, info.password));
      return () => {
        const r = Math.random();
        if (r < 0.1)
          return ['/like/like', { video_id: 1 + rand(info.max_video_id) }, likers[rand(likers.length)]];
        if (r < 0.5) return ['/video/getDetail', { id: 1 + rand(Math.min(20_000, info.max_video_id)) }];
        return ['/feed/listLatest', { limit: 10 }];
      };
    }
    default:
      throw new Error(`unknown scenario ${SCENARIO}`);
  }
}

async function tokenFor(info: SeedInfo): Promise<string | undefined> {
  if (SCENARIOS[SCENARIO] !== 'viewer') return undefined;
  const user = info.following_users.find((u) => u.follows === FOLLOWS);
  if (user === undefined)
    throw new Error(`--follows: one of ${info.following_users.map((u) => u.follows).join(', ')}`);
  return login(user.username, info.password);
}

async function main(): Promise<void> {
  const problem = optionsProblem();
  if (problem !== undefined) throw new Error(problem);
  if (hasTaskset && process.env.BENCH_PINNED !== '1') {
    const child = spawn('taskset', ['-c', '1', process.execPath, __filename, ...argv], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_PINNED: '1' },
    });
    child.on('exit', (code) => process.exit(code ?? 1));
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
    return;
  }
  const info = JSON.parse(readFileSync(join(ROOT, 'bench', 'results', 'seed-info.json'), 'utf8')) as SeedInfo;
  await assertPortsFree(PORTS);
  const apis = [
    startApi(AGAINST, PORTS[0], OTHER_NODE_ARGS, prefixOf('other')),
    startApi(ROOT, PORTS[1], THIS_NODE_ARGS, prefixOf('this')),
  ];
  const stopAll = async (): Promise<void> => {
    stopping = true;
    const running = apis.filter((p) => p.exitCode === null && p.signalCode === null);
    await Promise.all(
      running.map(
        (p) =>
          new Promise((r) => {
            p.once('exit', r);
            p.kill('SIGTERM');
          }),
      ),
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stopAll().finally(() => process.exit(130)));
  }
  try {
    for (const port of PORTS) await healthy(port);
    const next = await requestsOf(info);
    const token = await tokenFor(info);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const both = (duration: number): Promise<AcResult[]> =>
      Promise.all(
        PORTS.map((port) =>
          autocannon({
            url: `http://127.0.0.1:${port}`,
            connections: Math.floor(CONNECTIONS / 2),
            duration,
            requests: [
              {
                method: 'POST',
                path: '/',
                headers,
                setupRequest: (req: AcRequest): AcRequest => {
                  const [path, body, liker] = next();
                  const withLiker = liker ? { ...headers, authorization: `Bearer ${liker}` } : headers;
                  return { ...req, path, headers: withLiker, body: JSON.stringify(body) };
                },
              },
            ],
          }),
        ),
      );
    await both(5);
    console.log(`${SCENARIO}: ${AGAINST} (other) against ${ROOT} (this), ${DURATION} s a round`);
    for (let round = 1; round <= ROUNDS; round++) {
      const [other, mine] = await both(DURATION);
      if (died !== undefined) throw new Error(died);
      const bad = other.errors + other.non2xx + mine.errors + mine.non2xx;
      console.log(
        `round ${round}: other ${Math.round(other.requests.average)} req/s (p99 ${other.latency.p99} ms), ` +
          `this ${Math.round(mine.requests.average)} req/s (p99 ${mine.latency.p99} ms), ` +
          `this/other ${(mine.requests.average / other.requests.average).toFixed(3)}` +
          (bad > 0 ? `, errors or non-2xx ${bad}` : ''),
      );
    }
  } finally {
    await stopAll();
    if (OWN_PREFIXES) await deleteOwnPrefixes();
  }
}

/** The keys each api wrote under its own prefix (`--own-prefixes`). */
async function deleteOwnPrefixes(): Promise<void> {
  const url = process.env.REDIS_URL;
  if (!url) return;
  const redis = new Redis(url, { lazyConnect: true });
  try {
    await redis.connect();
    for (const who of ['this', 'other'] as const) {
      const stream = redis.scanStream({ match: `${prefixOf(who)}*`, count: 1000 });
      for await (const keys of stream as AsyncIterable<string[]>)
        if (keys.length > 0) await redis.unlink(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
