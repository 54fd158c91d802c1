/**
 * Fills the configured database with a realistic dataset, fast (multi-row INSERTs in big batches).
 *
 *   npm run bench:seed -- --accounts 10000 --videos 200000 --likes 1000000 --comments 200000
 *
 * DATABASE_URL picks the database (default: the SQLite file in DATA_DIR); a MySQL database named in
 * the URL is created when missing. Existing rows are deleted first. Counters are consistent with
 * the rows (likes_count = likes rows, comments_count = comment rows, popularity = both,
 * follower/vlogger counts = socials rows). Follows are power-law: a few authors have most of the
 * followers. Accounts 1, 2, 3 follow exactly 10, 200 and 2,000 authors; every account's password is
 * `bench-password`. With REDIS_URL set, likes of the last hour are also written to the hot-list
 * minute buckets. What the bench needs is written to `bench/results/seed-info.json`.
 */
import 'reflect-metadata';
import { hashSync } from 'bcryptjs';
import Redis from 'ioredis';
import { createConnection, Connection } from 'mysql2/promise';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, loadConfig, runMigrations } from '@app/core';
import { CacheKeys, minuteBucket } from '@app/cache';
import { SCHEMA } from '@app/schema';

export const BENCH_PASSWORD = 'bench-password';
/** Tags of the dataset (`tag1`..): each video has one, so each tag has about videos / SEED_TAGS. */
const SEED_TAGS = 100;
export const FOLLOW_TARGETS = [10, 200, 2000];

interface Args {
  accounts: number;
  videos: number;
  likes: number;
  comments: number;
  seed: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { accounts: 10_000, videos: 200_000, likes: 1_000_000, comments: 200_000, seed: 42 };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(accounts|videos|likes|comments|seed)(?:=(\d+))?$/.exec(argv[i]);
    if (!m) throw new Error(`unknown argument ${argv[i]}`);
    const v = m[2] ?? argv[++i];
    if (!/^\d+$/.test(v ?? '')) throw new Error(`--${m[1]} needs a non-negative integer`);
    a[m[1] as keyof Args] = Number(v);
  }
  if (a.accounts < 2001) throw new Error('--accounts must be above 2000 (a bench user follows 2,000)');
  return a;
}

/** mulberry32: a small deterministic PRNG so a seed run is reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Power-law index in [0, n): rank r has weight ~ 1/(r+1)^s (inverse-CDF approximation). */
function powerLaw(rand: () => number, n: number, s: number): number {
  const u = rand();
  const x = Math.pow(n + 1, 1 - s);
  const r = Math.floor(Math.pow(u * (x - 1) + 1, 1 / (1 - s))) - 1;
  return Math.min(n - 1, Math.max(0, r));
}

type Row = (string | number | null)[];

/** The few better-sqlite3 calls used here (the package ships no types). */
interface SqliteDb {
  pragma(s: string): unknown;
  exec(sql: string): void;
  prepare(sql: string): { run(...params: unknown[]): unknown };
  transaction<A>(fn: (arg: A) => void): (arg: A) => void;
  close(): void;
}
const SqliteDatabase = createRequire(__filename)('better-sqlite3') as new (path: string) => SqliteDb;

interface Sink {
  insert(table: string, cols: string[], rows: Row[]): Promise<void>;
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

async function mysqlSink(url: string): Promise<Sink> {
  const u = new URL(url);
  const dbName = decodeURIComponent(u.pathname.slice(1));
  u.pathname = '/';
  const admin = await createConnection(u.toString());
  await admin.query(
    `CREATE DATABASE IF NOT EXISTS \`${dbName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
  );
  await admin.end();
  const c: Connection = await createConnection({ uri: url, multipleStatements: false });
  await c.query('SET unique_checks = 0, foreign_key_checks = 0');
  return {
    async insert(table, cols, rows) {
      for (let i = 0; i < rows.length; i += 5000) {
        await c.query(`INSERT INTO \`${table}\` (${cols.join(',')}) VALUES ?`, [rows.slice(i, i + 5000)]);
      }
    },
    async exec(sql) {
      await c.query(sql);
    },
    async close() {
      await c.end();
    },
  };
}

function sqliteSink(path: string): Sink {
  const db = new SqliteDatabase(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  return {
    async insert(table, cols, rows) {
      const per = Math.floor(30_000 / cols.length);
      const tx = db.transaction((chunk: Row[]) => {
        for (let i = 0; i < chunk.length; i += per) {
          const part = chunk.slice(i, i + per);
          const ph = `(${cols.map(() => '?').join(',')})`;
          db.prepare(`INSERT INTO "${table}" (${cols.join(',')}) VALUES ${part.map(() => ph).join(',')}`).run(
            ...part.flat(),
          );
        }
      });
      tx(rows);
    },
    async exec(sql) {
      db.exec(sql);
    },
    async close() {
      db.close();
    },
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const config = loadConfig(process.env);
  const t0 = Date.now();
  const log = (m: string): void => console.log(`[seed ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
  const sink = config.database.type === 'mysql' ? await mysqlSink(config.database.url) : null;

  const ds = new DataSource(buildDataSourceOptions(config, SCHEMA, { statementTimeoutMs: 0 }));
  await ds.initialize();
  await runMigrations(ds);
  await ds.destroy();
  const db = sink ?? sqliteSink(config.database.type === 'sqlite' ? config.database.path : '');
  log(`migrated ${config.database.type}`);

  for (const table of [
    'likes',
    'comments',
    'socials',
    'video_tags',
    'tags',
    'videos',
    'accounts',
    'outbox',
    'processed_events',
  ]) {
    await db.exec(
      config.database.type === 'mysql' ? `TRUNCATE TABLE \`${table}\`` : `DELETE FROM "${table}"`,
    );
  }
  if (config.database.type === 'sqlite') await db.exec(`DELETE FROM sqlite_sequence`);

  const rand = rng(args.seed);
  const now = Date.now();
  const A = args.accounts;
  const V = args.videos;
  const hash = hashSync(BENCH_PASSWORD, 8);

  // Follows: accounts 1..3 follow exactly 10 / 200 / 2000 authors; the others 0..~60, power-law targets.
  const followers = new Int32Array(A + 1);
  const vloggers = new Int32Array(A + 1);
  const socialRows: Row[] = [];
  const follows = new Set<number>();
  const follow = (f: number, v: number): boolean => {
    if (f === v || follows.has(f * (A + 1) + v)) return false;
    follows.add(f * (A + 1) + v);
    socialRows.push([f, v, now - Math.floor(rand() * 90 * 86_400_000)]);
    followers[v]++;
    vloggers[f]++;
    return true;
  };
  FOLLOW_TARGETS.forEach((n, i) => {
    const uid = i + 1;
    while (vloggers[uid] < n)
      follow(uid, 1 + (rand() < 0.5 ? powerLaw(rand, A, 1.2) : Math.floor(rand() * A)));
  });
  for (let f = FOLLOW_TARGETS.length + 1; f <= A; f++) {
    const k = Math.floor(Math.pow(rand(), 2) * 60);
    for (let j = 0; j < k; j++) follow(f, 1 + powerLaw(rand, A, 1.2));
  }

  // Videos: authors mildly skewed; times over 90 days, ascending with id, many equal create_times.
  const videoAuthor = new Int32Array(V + 1);
  const videoTime = new Float64Array(V + 1);
  const span = 90 * 86_400_000;
  for (let id = 1; id <= V; id++) {
    videoAuthor[id] = 1 + powerLaw(rand, A, 0.6);
    // Whole seconds, so that ties on create_time are common.
    videoTime[id] = Math.floor((now - span + (span * id) / (V + 1)) / 1000) * 1000;
  }
  const likesCount = new Int32Array(V + 1);
  const commentsCount = new Int32Array(V + 1);

  // Likes: video power-law (a few videos get most likes), account uniform, unique pairs.
  const likeRows: Row[] = [];
  const seen = new Set<number>();
  const hot = new Map<string, Map<number, number>>();
  const hourAgo = now - 3_600_000;
  for (let n = 0, tries = 0; n < args.likes && tries < args.likes * 4; tries++) {
    const v = 1 + powerLaw(rand, V, 0.9);
    const a = 1 + Math.floor(rand() * A);
    const key = v * (A + 1) + a;
    if (seen.has(key)) continue;
    seen.add(key);
    // 5% of likes in the last hour (they feed the hot list), the rest after the video was made.
    const ts =
      rand() < 0.05
        ? hourAgo + Math.floor(rand() * 3_600_000)
        : videoTime[v] + Math.floor(rand() * (now - videoTime[v]));
    likeRows.push([v, a, ts]);
    likesCount[v]++;
    n++;
    if (ts >= hourAgo) {
      const m = minuteBucket(ts);
      const b = hot.get(m) ?? new Map<number, number>();
      b.set(v, (b.get(v) ?? 0) + 1);
      hot.set(m, b);
    }
  }
  const commentRows: Row[] = [];
  for (let n = 0; n < args.comments; n++) {
    const v = 1 + powerLaw(rand, V, 0.9);
    const a = 1 + Math.floor(rand() * A);
    commentRows.push([v, a, `user${a}`, `comment ${n} on video ${v}`, videoTime[v] + 1000]);
    commentsCount[v]++;
  }
  log(`generated ${socialRows.length} follows, ${likeRows.length} likes, ${commentRows.length} comments`);

  const accountRows: Row[] = [];
  for (let id = 1; id <= A; id++) {
    accountRows.push([
      id,
      `user${id}`,
      `user${id}`,
      hash,
      '',
      '',
      followers[id],
      vloggers[id],
      now - span - 86_400_000,
    ]);
  }
  await db.insert(
    'accounts',
    [
      'id',
      'username',
      'username_key',
      'password_hash',
      'avatar_url',
      'bio',
      'follower_count',
      'vlogger_count',
      'create_time',
    ],
    accountRows,
  );
  log(`accounts: ${A}`);
  // Tags: `tag1`..`tag<SEED_TAGS>`, one per video, spread evenly by a multiplicative hash of the id
  // (no draw from the generator, so the rest of the dataset is what it was before tags).
  await db.insert(
    'tags',
    ['id', 'name'],
    Array.from({ length: SEED_TAGS }, (_, i) => [i + 1, `tag${i + 1}`]),
  );
  const tagOf = (id: number): number => 1 + (((id * 2654435761) % 2 ** 32) % SEED_TAGS);
  const videoRows: Row[] = [];
  const tagRows: Row[] = [];
  for (let id = 1; id <= V; id++) {
    videoRows.push([
      id,
      videoAuthor[id],
      `user${videoAuthor[id]}`,
      `video ${id}`,
      `seeded video ${id} by user${videoAuthor[id]} #tag${tagOf(id)}`,
      `/static/videos/${id}.mp4`,
      `/static/covers/${id}.jpg`,
      videoTime[id],
      likesCount[id],
      commentsCount[id],
      likesCount[id] + commentsCount[id],
      `tag${tagOf(id)}`,
    ]);
    tagRows.push([id, tagOf(id), videoTime[id]]);
    if (videoRows.length === 50_000 || id === V) {
      await db.insert(
        'videos',
        [
          'id',
          'author_id',
          'username',
          'title',
          'description',
          'play_url',
          'cover_url',
          'create_time',
          'likes_count',
          'comments_count',
          'popularity',
          'tags',
        ],
        videoRows.splice(0),
      );
      await db.insert('video_tags', ['video_id', 'tag_id', 'create_time'], tagRows.splice(0));
    }
  }
  log(`videos: ${V} (tags: ${SEED_TAGS})`);
  while (likeRows.length) {
    await db.insert('likes', ['video_id', 'account_id', 'create_time'], likeRows.splice(0, 100_000));
  }
  log(`likes: ${seen.size}`);
  while (commentRows.length) {
    await db.insert(
      'comments',
      ['video_id', 'author_id', 'username', 'content', 'create_time'],
      commentRows.splice(0, 100_000),
    );
  }
  log('comments done');
  await db.insert('socials', ['follower_id', 'vlogger_id', 'create_time'], socialRows);
  log('socials done');
  await db.exec(config.database.type === 'mysql' ? 'ANALYZE TABLE videos, likes, socials' : 'ANALYZE');
  await db.close();

  if (config.redisUrl) {
    const r = new Redis(config.redisUrl);
    const pipe = r.pipeline();
    for (const [minute, scores] of hot) {
      const key = config.redisKeyPrefix + CacheKeys.hotBucket(minute);
      pipe.del(key);
      for (const [v, s] of scores) pipe.zincrby(key, s, String(v));
      pipe.expire(key, 7200);
    }
    // A running window from an earlier seed is rebuilt from these buckets by the next first page.
    pipe.unlink(
      config.redisKeyPrefix + CacheKeys.hotWindow,
      config.redisKeyPrefix + CacheKeys.hotWindowState,
    );
    pipe.incr(config.redisKeyPrefix + CacheKeys.hotVersion);
    await pipe.exec();
    r.disconnect();
    log(`hot buckets: ${hot.size} minutes`);
  }

  const info = {
    created_at: new Date().toISOString(),
    database: config.database.type,
    args,
    password: BENCH_PASSWORD,
    following_users: FOLLOW_TARGETS.map((n, i) => ({
      account_id: i + 1,
      username: `user${i + 1}`,
      follows: n,
    })),
    max_video_id: V,
    time_range_ms: [videoTime[1], videoTime[V]],
    max_likes_count: likesCount.reduce((m, x) => Math.max(m, x), 0),
    tags: SEED_TAGS,
  };
  const dir = join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'seed-info.json'), JSON.stringify(info, null, 2));
  log(`done: ${JSON.stringify(info.following_users)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
