import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DataSource } from 'typeorm';
import Redis, { Cluster } from 'ioredis';
import { CacheKeys, HOT_ID_SPACE, minuteBucket } from '@app/cache';
import { buildDataSourceOptions, Database, loadConfig } from '@app/core';
import { SCHEMA } from '@app/schema';
import { recountAll } from '../../apps/worker/src/recount-all';
import { REDIS_URL, type TestEnv } from '../helpers/test-env';

const run = promisify(execFile);

export interface Client {
  id: number;
  token: string;
}

/**
 * What one HTTP call ended as: a status, `refused` (never reached the api), `unknown` (no answer)
 * or `maybe` (a 503 saying the database stopped answering during the commit: the write may be there).
 */
type Outcome = number | 'refused' | 'unknown' | 'maybe';

export async function post(
  base: () => string,
  path: string,
  body: unknown,
  token?: string,
): Promise<{ outcome: Outcome; json: Record<string, unknown> | null }> {
  try {
    const res = await fetch(base() + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(8000),
    });
    const text = await res.text();
    let json: Record<string, unknown> | null = null;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = null;
    }
    // The database stopped answering during the commit: the write may or may not be there.
    if (res.status === 503 && typeof json?.error === 'string' && /may or may not/.test(json.error)) {
      return { outcome: 'maybe', json };
    }
    return { outcome: res.status, json };
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    return { outcome: code === 'ECONNREFUSED' ? 'refused' : 'unknown', json: null };
  }
}

type PairState = 'present' | 'absent' | 'unknown';

/**
 * The client-side truth: what every acknowledged write implies about the final state. An outcome
 * the client cannot know (connection dropped mid-request) makes that item `unknown`, never wrong.
 * A 4xx or 503 means nothing was written (SPEC §1).
 */
/** One request of the load: when it started and ended (ms since epoch) and how it ended. */
export interface Sample {
  start: number;
  end: number;
  outcome: Outcome;
}

export class Model {
  readonly likes = new Map<string, PairState>();
  readonly samples: Sample[] = [];
  readonly follows = new Map<string, PairState>();
  readonly comments = new Map<number, { account: number; video: number; state: PairState }>();
  readonly unknownPublishes = new Map<string, number>();
  acknowledged = 0;

  constructor(
    readonly clients: Client[],
    readonly videos: number[],
  ) {}

  private pair(
    map: Map<string, PairState>,
    key: string,
    outcome: Outcome,
    target: 'present' | 'absent',
  ): void {
    if (outcome === 200) this.acknowledged++;
    if (outcome === 200 || outcome === 409) map.set(key, target);
    else if (
      outcome === 'unknown' ||
      outcome === 'maybe' ||
      (typeof outcome === 'number' && outcome >= 500 && outcome !== 503)
    ) {
      map.set(key, 'unknown');
    }
  }

  /** One random write by `c`. */
  async step(c: Client, base: () => string): Promise<Outcome> {
    const r = Math.random();
    if (r < 0.45) {
      const v = pick(this.videos);
      const key = `${c.id}:${v}`;
      const st = this.likes.get(key) ?? 'absent';
      const doLike = st === 'absent' || (st === 'unknown' && Math.random() < 0.5);
      const { outcome } = await post(base, doLike ? '/like/like' : '/like/unlike', { video_id: v }, c.token);
      this.pair(this.likes, key, outcome, doLike ? 'present' : 'absent');
      return outcome;
    }
    if (r < 0.65) {
      const v = pick(this.videos);
      const { outcome, json } = await post(
        base,
        '/comment/publish',
        { video_id: v, content: 'fault load' },
        c.token,
      );
      if (outcome === 200 && json && typeof json.id === 'number') {
        this.acknowledged++;
        this.comments.set(json.id, { account: c.id, video: v, state: 'present' });
      } else if (
        outcome === 'unknown' ||
        outcome === 'maybe' ||
        (typeof outcome === 'number' && outcome >= 500 && outcome !== 503)
      ) {
        const key = `${c.id}:${v}`;
        this.unknownPublishes.set(key, (this.unknownPublishes.get(key) ?? 0) + 1);
      }
      return outcome;
    }
    if (r < 0.75) {
      const mine = [...this.comments.entries()].filter(
        ([, m]) => m.account === c.id && m.state === 'present',
      );
      if (mine.length === 0) return 0;
      const [id, m] = pick(mine);
      const { outcome } = await post(base, '/comment/delete', { comment_id: id }, c.token);
      if (outcome === 200) this.acknowledged++;
      if (outcome === 200 || outcome === 404) m.state = 'absent';
      else if (
        outcome === 'unknown' ||
        outcome === 'maybe' ||
        (typeof outcome === 'number' && outcome >= 500 && outcome !== 503)
      ) {
        m.state = 'unknown';
      }
      return outcome;
    }
    const other = pick(this.clients.filter((o) => o.id !== c.id));
    const key = `${c.id}:${other.id}`;
    const st = this.follows.get(key) ?? 'absent';
    const doFollow = st === 'absent' || (st === 'unknown' && Math.random() < 0.5);
    const { outcome } = await post(
      base,
      doFollow ? '/social/follow' : '/social/unfollow',
      { vlogger_id: other.id },
      c.token,
    );
    this.pair(this.follows, key, outcome, doFollow ? 'present' : 'absent');
    return outcome;
  }
}

function pick<T>(xs: T[]): T {
  return xs[Math.floor(Math.random() * xs.length)];
}

/** Drives every client for `durationMs`; returns the writes acknowledged meanwhile (samples go to `model.samples`). */
export async function drive(model: Model, base: () => string, durationMs: number): Promise<number> {
  const before = model.acknowledged;
  const end = Date.now() + durationMs;
  // Hot-list first pages meanwhile (not sampled): the current snapshot is built from the running
  // window, which `check` then holds against the buckets.
  const reader = async (): Promise<void> => {
    while (Date.now() < end) {
      await post(base, '/feed/listByPopularity', { limit: 10 });
      await sleep(250);
    }
  };
  await Promise.all([
    reader(),
    ...model.clients.map(async (c) => {
      while (Date.now() < end) {
        const start = Date.now();
        const outcome = await model.step(c, base);
        if (outcome !== 0) model.samples.push({ start, end: Date.now(), outcome });
        if (typeof outcome !== 'number' || outcome >= 500) await sleep(50);
      }
    }),
  ]);
  return model.acknowledged - before;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Queue name → messages (ready + unacked) in the suite's vhost. */
export async function queueDepths(vhost: string): Promise<Map<string, number>> {
  const { stdout } = await run('rabbitmqctl', [
    '-q',
    'list_queues',
    '-p',
    vhost,
    '--no-table-headers',
    'name',
    'messages',
  ]);
  const m = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const [name, n] = line.trim().split(/\s+/);
    if (name && n !== undefined) m.set(name, Number(n));
  }
  return m;
}

export async function deadLettered(vhost: string): Promise<number> {
  let n = 0;
  for (const [name, depth] of await queueDepths(vhost)) if (name.endsWith('.dlq')) n += depth;
  return n;
}

export interface CheckResult {
  lost: number;
  phantom: number;
  mismatched: number;
  details: string[];
  /** Entries of the hot list's running window held against the buckets (0: none was built). */
  hotWindow: number;
}

/** A direct database handle on the suite's database (the recount needs a {@link Database}). */
export async function openDatabase(env: TestEnv): Promise<{ db: Database; close: () => Promise<void> }> {
  const config = loadConfig(env.env);
  const ds = new DataSource(buildDataSourceOptions(config, SCHEMA, { statementTimeoutMs: 0 }));
  await ds.initialize();
  return { db: new Database(ds, config), close: () => ds.destroy() };
}

/** Waits until nothing is pending: no Pending outbox rows, no message in a work or retry queue. */
export async function quiesce(db: Database, vhost: string, timeoutMs = 90000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let calm = 0;
  while (Date.now() < deadline) {
    const [{ n }] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM outbox WHERE status = 0');
    let busy = Number(n);
    for (const [name, depth] of await queueDepths(vhost)) if (!name.endsWith('.dlq')) busy += depth;
    calm = busy === 0 ? calm + 1 : 0;
    if (calm >= 2) return;
    await sleep(500);
  }
  throw new Error('the system did not quiesce in time');
}

/** SPEC §7 promises 1–3 against the database, Redis hot buckets and `recountAll()`. */
export async function check(model: Model, db: Database, env: TestEnv): Promise<CheckResult> {
  const res: CheckResult = { lost: 0, phantom: 0, mismatched: 0, details: [], hotWindow: 0 };
  const note = (s: string): void => {
    if (res.details.length < 20) res.details.push(s);
  };
  const bad = (kind: 'lost' | 'phantom' | 'mismatched', s: string, n = 1): void => {
    res[kind] += n;
    note(s);
  };
  const pairs = async (sql: string, map: Map<string, PairState>, what: string): Promise<void> => {
    const rows = await db.query<{ a: number; b: number }>(sql);
    const present = new Set(rows.map((r) => `${r.a}:${r.b}`));
    for (const [key, st] of map) {
      if (st === 'present' && !present.has(key)) bad('lost', `${what} ${key} acknowledged but missing`);
      if (st === 'absent' && present.has(key)) bad('phantom', `${what} ${key} present but removed`);
    }
    for (const key of present) if (!map.has(key)) bad('phantom', `${what} ${key} never requested`);
  };
  await pairs('SELECT account_id AS a, video_id AS b FROM likes', model.likes, 'like');
  await pairs('SELECT follower_id AS a, vlogger_id AS b FROM socials', model.follows, 'follow');

  const comments = await db.query<{ id: number; a: number; v: number }>(
    'SELECT id, author_id AS a, video_id AS v FROM comments',
  );
  const byId = new Map(comments.map((c) => [Number(c.id), c]));
  for (const [id, m] of model.comments) {
    if (m.state === 'present' && !byId.has(id)) bad('lost', `comment ${id} acknowledged but missing`);
    if (m.state === 'absent' && byId.has(id)) bad('phantom', `comment ${id} deleted but present`);
  }
  const unknown = new Map(model.unknownPublishes);
  for (const c of comments) {
    if (model.comments.has(Number(c.id))) continue;
    const key = `${c.a}:${c.v}`;
    const left = unknown.get(key) ?? 0;
    if (left > 0) unknown.set(key, left - 1);
    else bad('phantom', `comment ${c.id} never acknowledged`);
  }

  // Promise 1: counters equal their source rows.
  const videos = await db.query<{ id: number; l: number; c: number; p: number; rl: number; rc: number }>(
    `SELECT v.id, v.likes_count AS l, v.comments_count AS c, v.popularity AS p,
       (SELECT COUNT(*) FROM likes x WHERE x.video_id = v.id) AS rl,
       (SELECT COUNT(*) FROM comments y WHERE y.video_id = v.id) AS rc
     FROM videos v`,
  );
  const popularity = new Map<number, number>();
  for (const v of videos) {
    const [l, c, p, rl, rc] = [v.l, v.c, v.p, v.rl, v.rc].map(Number);
    popularity.set(Number(v.id), p);
    if (l !== rl) bad('mismatched', `video ${v.id} likes_count ${l} != ${rl}`);
    if (c !== rc) bad('mismatched', `video ${v.id} comments_count ${c} != ${rc}`);
    if (p !== rl + rc) bad('mismatched', `video ${v.id} popularity ${p} != ${rl + rc}`);
  }
  const accounts = await db.query<{ id: number; f: number; g: number; rf: number; rg: number }>(
    `SELECT a.id, a.follower_count AS f, a.vlogger_count AS g,
       (SELECT COUNT(*) FROM socials s WHERE s.vlogger_id = a.id) AS rf,
       (SELECT COUNT(*) FROM socials s WHERE s.follower_id = a.id) AS rg
     FROM accounts a`,
  );
  for (const a of accounts) {
    if (Number(a.f) !== Number(a.rf)) bad('mismatched', `account ${a.id} follower_count ${a.f} != ${a.rf}`);
    if (Number(a.g) !== Number(a.rg)) bad('mismatched', `account ${a.id} vlogger_count ${a.g} != ${a.rg}`);
  }

  // Hot buckets: each minute's bucket equals the popularity events of that minute.
  const expected = new Map<string, number>();
  const outbox = await db.query<{ payload: string }>(
    "SELECT payload FROM outbox WHERE routing_key = 'video.popularity.update'",
  );
  for (const row of outbox) {
    const p = JSON.parse(row.payload) as { video_id: number; delta: number; ts: number };
    const key = `${minuteBucket(p.ts)}|${p.video_id}`;
    expected.set(key, (expected.get(key) ?? 0) + p.delta);
  }
  // On a cluster every hot-list key shares the `{video}` slot, so one master holds them all.
  const cluster = env.redisClusterNodes
    ? new Cluster(
        env.redisClusterNodes
          .split(',')
          .map((n) => ({ host: n.split(':')[0], port: Number(n.split(':')[1]) })),
        { redisOptions: { maxRetriesPerRequest: 1 } },
      )
    : null;
  const redis = cluster ?? new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const actual = new Map<string, number>();
    const minutes = new Set([...expected.keys()].map((k) => k.split('|')[0]));
    const pattern = `${env.redisPrefix}${CacheKeys.hotBucket('*')}`;
    const stray = cluster
      ? (await Promise.all(cluster.nodes('master').map((n) => n.keys(pattern)))).flat()
      : await (redis as Redis).keys(pattern);
    for (const k of stray) minutes.add(k.slice(k.lastIndexOf(':') + 1));
    for (const minute of minutes) {
      const flat = await redis.zrange(
        `${env.redisPrefix}${CacheKeys.hotBucket(minute)}`,
        0,
        -1,
        'WITHSCORES',
      );
      for (let i = 0; i < flat.length; i += 2) actual.set(`${minute}|${flat[i]}`, Number(flat[i + 1]));
    }
    const total = new Map<number, number>();
    for (const key of new Set([...expected.keys(), ...actual.keys()])) {
      const e = expected.get(key) ?? 0;
      const a = actual.get(key) ?? 0;
      const video = Number(key.split('|')[1]);
      total.set(video, (total.get(video) ?? 0) + a);
      if (e !== a) bad('mismatched', `hot bucket ${key}: ${a} != ${e}`);
    }
    for (const [video, p] of popularity) {
      if ((total.get(video) ?? 0) !== p)
        bad('mismatched', `hot window of ${video}: ${total.get(video) ?? 0} != ${p}`);
    }
    // The running window, when one was built: each video's sum of the buckets from its low minute on.
    const low = (await redis.get(`${env.redisPrefix}${CacheKeys.hotWindowState}`))?.split(':')[0] ?? null;
    const window = await redis.zrange(`${env.redisPrefix}${CacheKeys.hotWindow}`, 0, -1, 'WITHSCORES');
    if (low !== null && window.length > 0) {
      res.hotWindow = window.length / 2;
      const from = minuteBucket(Number(low) * 1000);
      const want = new Map<number, number>();
      for (const [key, a] of actual) {
        const [minute, video] = key.split('|');
        if (minute >= from) want.set(Number(video), (want.get(Number(video)) ?? 0) + a);
      }
      const got = new Map<number, number>();
      for (let i = 0; i < window.length; i += 2) {
        const video = Number(window[i]);
        if (video !== 0) got.set(video, (Number(window[i + 1]) - video) / HOT_ID_SPACE);
      }
      for (const video of new Set([...want.keys(), ...got.keys()])) {
        if ((want.get(video) ?? 0) !== (got.get(video) ?? 0))
          bad(
            'mismatched',
            `running hot window of ${video}: ${got.get(video) ?? 0} != ${want.get(video) ?? 0}`,
          );
      }
    }
  } finally {
    redis.disconnect();
  }

  // Notifications (SPEC §8.4): exactly one per (actor, target) that ever happened, never for one's
  // own action, one per surviving comment, each from an applied event.
  const notes = await db.query<{
    r: number;
    t: string;
    a: number;
    v: number;
    c: number;
    e: string;
    applied: number;
  }>(
    `SELECT n.recipient_id AS r, n.type AS t, n.actor_id AS a, n.video_id AS v, n.comment_id AS c, n.event_id AS e,
       CASE WHEN p.event_id IS NULL THEN 0 ELSE 1 END AS applied
     FROM notifications n LEFT JOIN processed_events p ON p.event_id = n.event_id`,
  );
  const authorOf = new Map(
    (await db.query<{ id: number; a: number }>('SELECT id, author_id AS a FROM videos')).map((v) => [
      Number(v.id),
      Number(v.a),
    ]),
  );
  const events = await db.query<{ k: string; payload: string }>(
    "SELECT routing_key AS k, payload FROM outbox WHERE routing_key IN ('like.like', 'social.follow')",
  );
  const want = new Set<string>();
  for (const row of events) {
    const p = JSON.parse(row.payload) as {
      account_id?: number;
      video_id?: number;
      follower_id?: number;
      vlogger_id?: number;
    };
    if (row.k === 'like.like' && authorOf.get(p.video_id!) !== p.account_id) {
      want.add(`like:${authorOf.get(p.video_id!)}:${p.account_id}:${p.video_id}:0`);
    }
    if (row.k === 'social.follow' && p.follower_id !== p.vlogger_id)
      want.add(`follow:${p.vlogger_id}:${p.follower_id}:0:0`);
  }
  for (const cm of comments) {
    const author = authorOf.get(Number(cm.v));
    if (author !== undefined && author !== Number(cm.a))
      want.add(`comment:${author}:${cm.a}:${cm.v}:${cm.id}`);
  }
  const have = new Map<string, number>();
  for (const n of notes) {
    if (Number(n.applied) !== 1) bad('mismatched', `notification from an unapplied event ${n.e}`);
    if (Number(n.r) === Number(n.a)) bad('mismatched', `notification ${n.t} for one's own action by ${n.a}`);
    const key = `${n.t}:${n.r}:${n.a}:${n.v}:${n.t === 'comment' ? n.c : 0}`;
    have.set(key, (have.get(key) ?? 0) + 1);
  }
  for (const key of want) if (!have.has(key)) bad('lost', `notification ${key} missing`);
  for (const [key, n] of have) {
    if (!want.has(key)) bad('phantom', `notification ${key} never caused`);
    if (n > 1) bad('mismatched', `notification ${key} ×${n}`);
  }

  // The recount must find nothing to fix.
  const report = await recountAll(db);
  for (const [counter, n] of Object.entries(report)) {
    if (n !== 0) bad('mismatched', `recount fixed ${n} ${counter}`, n);
  }
  return res;
}

/** What the load saw while a dependency was away, and how long it took to come back. */
export interface OutageReport {
  /** Requests answered 503 while it was away (those whose commit was cut included). */
  unavailable: number;
  /** Requests that got no answer at all (a hang cut by the client's 8 s timeout, or a reset). */
  unanswered: number;
  /** The longest request that started while it was away (ms). */
  longestMs: number;
  /** From the restore to the first acknowledged write that started after it (ms). */
  recoverMs: number;
}

export function outageReport(samples: Sample[], from: number, to: number): OutageReport {
  const during = samples.filter((s) => s.start >= from && s.start < to);
  const after = samples.filter((s) => s.start >= to && s.outcome === 200).sort((a, b) => a.end - b.end);
  return {
    unavailable: during.filter((s) => s.outcome === 503 || s.outcome === 'maybe').length,
    unanswered: during.filter((s) => s.outcome === 'unknown' || s.outcome === 'refused').length,
    longestMs: during.reduce((m, s) => Math.max(m, s.end - s.start), 0),
    recoverMs: after.length > 0 ? after[0].end - to : Number.NaN,
  };
}
