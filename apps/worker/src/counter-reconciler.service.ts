import { Inject, Injectable, Logger, OnModuleDestroy, Optional } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  APP_CONFIG,
  Database,
  isDatabaseUnavailable,
  lockClause,
  nowMs,
  PeriodicDuty,
  placeholders,
  type AppConfig,
} from '@app/core';
import {
  ALL_CONSUMER_QUEUES,
  EventApplier,
  EventPublisher,
  parseEvent,
  retryQueueName,
  RETRY_DELAYS_MS,
  type DomainEvent,
} from '@app/events';
import { CacheStore } from '@app/cache';
import { LikesCountIndex, markDetailsChanged, VideoListGeneration } from '@app/video';

/** An event still unapplied this long after it was written is stuck (dead-lettered or lost), not late. */
export const STUCK_AFTER_MS = 15 * 60 * 1000;
/** How far back the first scan after a start looks for stuck events. */
const FIRST_LOOKBACK_MS = 60 * 60 * 1000;
/** Outbox rows read per tick at most (a backlog is caught up over several ticks). */
const MAX_SCAN_ROWS = 100_000;
const SCAN_CHUNK = 2000;
/** Entities locked and counted per transaction. */
const CHECK_CHUNK = 100;
/** Entities of each kind the slow full sweep checks per tick. */
const SWEEP_PER_TICK = 500;
/**
 * An outbox id missing from a scan, next to a row written less than this long before, may be a
 * transaction that has not committed yet (ids are taken at insert, seen at commit); an older gap
 * is a rolled-back insert. A write's transaction ends within a few statement deadlines.
 */
export const OUTBOX_GAP_SETTLE_MS = 15_000;

export interface ReconcileRun {
  /** Outbox rows read from the frontier. */
  scanned: number;
  /** Stuck events applied by the reconciliation. */
  stuckApplied: number;
  /** Entities whose counters were compared with their rows. */
  checked: number;
  /** Counters found off and set from the rows, by counter. */
  fixed: Record<Counter, number>;
}

type Counter = 'likes_count' | 'comments_count' | 'popularity' | 'follower_count' | 'vlogger_count';
const COUNTERS: Counter[] = [
  'likes_count',
  'comments_count',
  'popularity',
  'follower_count',
  'vlogger_count',
];

interface Entities {
  videos: Set<number>;
  accounts: Set<number>;
}

const entities = (): Entities => ({ videos: new Set(), accounts: new Set() });

function entitiesOf(e: DomainEvent, into: Entities): void {
  const p = e.payload as { video_id?: number; follower_id?: number; vlogger_id?: number };
  if (p.video_id) into.videos.add(p.video_id);
  if (p.follower_id) into.accounts.add(p.follower_id);
  if (p.vlogger_id) into.accounts.add(p.vlogger_id);
}

/**
 * Counts heal themselves (issue 15): in the worker, every `RECONCILE_EVERY` (30 s):
 *
 * 1. **The frontier.** Outbox rows written since the last pass are read in id order and joined
 *    with `processed_events`: which entities they touched, and which events are not applied yet.
 *    An event still unapplied after {@link STUCK_AFTER_MS} while the work queues are empty was
 *    dead-lettered or lost: it is applied here (deduped by `event_id`, so a later dead-letter
 *    replay changes nothing). The rest are in flight.
 * 2. **The check.** The touched videos and accounts, plus the next slice of a slow full sweep,
 *    are compared with their rows in small transactions: the entities' rows locked `FOR UPDATE`
 *    (no counter change can interleave), then — in a snapshot taken after the locks — any event
 *    written since the scan that is not applied yet, and the row counts. An entity with an event
 *    in flight is skipped (its counter legitimately lags); any other difference is drift, set from
 *    the rows, logged and counted on `/metrics` (`reconcile_fixed_total`: a non-zero count is a
 *    bug to look at).
 *
 * Only drift is written, so the pass costs reads when everything is exact. `npm run recount` stays
 * the manual, whole-table tool.
 */
@Injectable()
export class CounterReconciler implements OnModuleDestroy {
  private readonly logger = new Logger(CounterReconciler.name);
  /** Every outbox row with an id ≤ this was applied (or found stuck and applied) at the last scan. */
  private appliedUpTo: number | null = null;
  private readonly sweep = { videos: 0, accounts: 0 };
  /** Moved with each fixed video's marks: a shared page built before the fix is not served after it. */
  private readonly generation: VideoListGeneration;
  /** One reconciler among several workers (by lease; another takes over after three missed passes). */
  private readonly duty: PeriodicDuty | null;
  readonly totals: { fixed: Record<Counter, number>; stuckApplied: number; runs: number } = {
    fixed: Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<Counter, number>,
    stuckApplied: 0,
    runs: 0,
  };

  constructor(
    private readonly db: Database,
    private readonly applier: EventApplier,
    private readonly publisher: EventPublisher,
    private readonly cache: CacheStore,
    // Absent only in a worker started without the domain modules (tests of the transport).
    @Optional() private readonly likesIndex: LikesCountIndex | null,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.generation = new VideoListGeneration(cache);
    const every = config.reconcileEveryMs;
    this.duty =
      every === null
        ? null
        : new PeriodicDuty({
            name: CounterReconciler.name,
            db,
            everyMs: every,
            jitter: 0.2,
            lease: { name: 'counter-reconciler', ttlMs: Math.max(60_000, 3 * every) },
            run: () => this.runOnce(),
          });
  }

  start(): void {
    this.duty?.start();
  }

  async stop(): Promise<void> {
    await this.duty?.stop();
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  /** One pass (exposed for tests). `stuckAfterMs` overrides {@link STUCK_AFTER_MS}. */
  async runOnce(stuckAfterMs = STUCK_AFTER_MS): Promise<ReconcileRun> {
    const run: ReconcileRun = {
      scanned: 0,
      stuckApplied: 0,
      checked: 0,
      fixed: Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<Counter, number>,
    };
    const touched = entities();
    const inFlight = entities();
    const scan = await this.scanFrontier(stuckAfterMs, touched, inFlight);
    run.scanned = scan.scanned;
    run.stuckApplied = await this.applyStuck(scan.stuck, inFlight);
    // A frontier not read to its end leaves in-flight events unseen: no drift is judged then.
    if (scan.caughtUp) {
      const videos = [...touched.videos, ...(await this.sweepSlice('videos'))];
      const accounts = [...touched.accounts, ...(await this.sweepSlice('accounts'))];
      await this.check('videos', unique(videos), inFlight, scan.unseenAfter, run);
      await this.check('accounts', unique(accounts), inFlight, scan.unseenAfter, run);
    }
    this.totals.runs++;
    this.totals.stuckApplied += run.stuckApplied;
    for (const c of COUNTERS) this.totals.fixed[c] += run.fixed[c];
    const fixed = COUNTERS.filter((c) => run.fixed[c] > 0);
    if (fixed.length > 0) {
      this.logger.error(
        `counters were off and are fixed: ${fixed.map((c) => `${c} ×${run.fixed[c]}`).join(', ')} (a bug or a change behind the system's back)`,
      );
    }
    return run;
  }

  /** Where the first pass after a start begins: the first outbox row of the lookback window (binary search on the id). */
  private async initialPosition(): Promise<number> {
    const [{ lo, hi }] = await this.db.query<{ lo: number | null; hi: number | null }>(
      'SELECT MIN(id) AS lo, MAX(id) AS hi FROM outbox',
    );
    if (lo === null || hi === null) return 0;
    const since = nowMs() - FIRST_LOOKBACK_MS;
    let [a, b] = [Number(lo), Number(hi) + 1];
    while (a < b) {
      const mid = Math.floor((a + b) / 2);
      const rows = await this.db.query<{ t: number }>(
        'SELECT create_time AS t FROM outbox WHERE id >= ? ORDER BY id LIMIT 1',
        [mid],
      );
      if (rows.length === 0 || Number(rows[0].t) >= since) b = mid;
      else a = mid + 1;
    }
    return a - 1;
  }

  /**
   * Reads the outbox from the last pass's applied mark on. `unseenAfter`: every row the scan could
   * not see (written after it, or an id below its end whose transaction had not committed yet: a
   * gap next to a recent row, {@link OUTBOX_GAP_SETTLE_MS}) has a greater id, so the checks look
   * for unapplied events from there; the applied mark stops before such a gap, so the next pass
   * reads it again.
   */
  private async scanFrontier(
    stuckAfterMs: number,
    touched: Entities,
    inFlight: Entities,
  ): Promise<{
    scanned: number;
    unseenAfter: number;
    caughtUp: boolean;
    stuck: { id: number; event: DomainEvent }[];
  }> {
    const start = this.appliedUpTo ?? (await this.initialPosition());
    const knownStart = this.appliedUpTo !== null;
    let from = start;
    const stuck: { id: number; event: DomainEvent }[] = [];
    const now = nowMs();
    const stuckBefore = now - stuckAfterMs;
    const settledBefore = now - OUTBOX_GAP_SETTLE_MS;
    let scanned = 0;
    let contiguous = true;
    let appliedUpTo = start;
    let firstGap: number | null = null;
    let prev = start;
    const done = (caughtUp: boolean) => {
      this.appliedUpTo = appliedUpTo;
      return {
        scanned,
        unseenAfter: firstGap === null ? from : Math.min(from, firstGap - 1),
        caughtUp,
        stuck,
      };
    };
    for (;;) {
      const rows = await this.db.query<{
        id: number;
        routing_key: string;
        payload: string;
        create_time: number;
        applied: number;
      }>(
        `SELECT o.id, o.routing_key, o.payload, o.create_time, CASE WHEN p.event_id IS NULL THEN 0 ELSE 1 END AS applied
         FROM outbox o LEFT JOIN processed_events p ON p.event_id = o.event_id
         WHERE o.id > ? ORDER BY o.id LIMIT ?`,
        [from, SCAN_CHUNK],
      );
      for (const r of rows) {
        const id = Number(r.id);
        // Ids missing before a recent row: perhaps a transaction still open (the first pass after a
        // start does not know what came before its position, so only gaps after a row it read count).
        if (id > prev + 1 && Number(r.create_time) >= settledBefore && (prev > start || knownStart)) {
          firstGap ??= prev + 1;
          contiguous = false;
        }
        prev = id;
        const parsed = parseEvent(r.routing_key, r.payload);
        const applied = Number(r.applied) === 1;
        if (parsed.ok) {
          entitiesOf(parsed.event, touched);
          if (!applied) {
            if (Number(r.create_time) < stuckBefore) stuck.push({ id: Number(r.id), event: parsed.event });
            else entitiesOf(parsed.event, inFlight);
          }
        }
        // Stuck rows are applied below; a row that does not parse can never be.
        if (contiguous && (applied || !parsed.ok || Number(r.create_time) < stuckBefore))
          appliedUpTo = Number(r.id);
        else contiguous = false;
      }
      scanned += rows.length;
      if (rows.length > 0) from = Number(rows[rows.length - 1].id);
      if (rows.length < SCAN_CHUNK) return done(true);
      if (scanned >= MAX_SCAN_ROWS) return done(false);
    }
  }

  /**
   * Applies stuck events, unless the work queues hold messages (a backlog the consumers will get
   * to: then an old event is late, not stuck). Their entities count as in flight this pass. Those
   * not applied are read again next pass.
   */
  private async applyStuck(stuck: { id: number; event: DomainEvent }[], inFlight: Entities): Promise<number> {
    if (stuck.length === 0) return 0;
    for (const s of stuck) entitiesOf(s.event, inFlight);
    const queues = ALL_CONSUMER_QUEUES.flatMap((q) => [
      q.name,
      ...RETRY_DELAYS_MS.map((d) => retryQueueName(q.name, d)),
    ]);
    const depths = await this.publisher.queueDepths(queues);
    if (depths === null || [...depths.values()].some((n) => n > 0)) {
      this.rewindTo(stuck[0].id);
      return 0;
    }
    let applied = 0;
    for (let i = 0; i < stuck.length; i += 500) {
      const chunk = stuck.slice(i, i + 500);
      try {
        await this.applier.applyDirectly(chunk.map((s) => s.event));
        applied += chunk.length;
      } catch (err) {
        this.rewindTo(chunk[0].id);
        if (isDatabaseUnavailable(err)) throw err;
        this.logger.error(`${chunk.length} stuck events could not be applied: ${(err as Error).message}`);
      }
    }
    if (applied > 0) this.logger.warn(`applied ${applied} stuck events (dead-lettered or lost messages)`);
    return applied;
  }

  /** The next scan starts again at outbox row `id`. */
  private rewindTo(id: number): void {
    this.appliedUpTo = Math.min(this.appliedUpTo ?? id - 1, id - 1);
  }

  /** The next ids of the slow full sweep, wrapping around at the end of the table. */
  private async sweepSlice(table: 'videos' | 'accounts'): Promise<number[]> {
    const rows = await this.db.query<{ id: number }>(
      `SELECT id FROM ${table} WHERE id > ? ORDER BY id LIMIT ?`,
      [this.sweep[table], SWEEP_PER_TICK],
    );
    this.sweep[table] = rows.length < SWEEP_PER_TICK ? 0 : Number(rows[rows.length - 1].id);
    return rows.map((r) => Number(r.id));
  }

  private async check(
    table: 'videos' | 'accounts',
    ids: number[],
    inFlight: Entities,
    unseenAfter: number,
    run: ReconcileRun,
  ): Promise<void> {
    const candidates = ids.filter((id) => !inFlight[table].has(id)).sort((a, b) => a - b);
    for (let i = 0; i < candidates.length; i += CHECK_CHUNK) {
      const chunk = candidates.slice(i, i + CHECK_CHUNK);
      const fixedIds = await this.db.transaction((m) =>
        table === 'videos'
          ? this.checkVideos(m, chunk, unseenAfter, run)
          : this.checkAccounts(m, chunk, unseenAfter, run),
      );
      run.checked += chunk.length;
      if (table === 'videos' && fixedIds.length > 0) {
        // As a count's event does (VideoDetailCache): each mark moves the video-list generation in
        // the same step, so no likes-count, tag or popularity page holding the wrong count is
        // shared after the fix (they were, for up to their 5 s).
        await markDetailsChanged(this.cache, this.db, fixedIds, () => this.generation.next());
        await this.likesIndex?.mark(fixedIds, this.generation.next());
      }
    }
  }

  /**
   * Entities with an event the scan did not see (an id past `unseenAfter`) and not applied yet,
   * read in the transaction's snapshot, which is taken after the entities' locks.
   */
  private async lateInFlight(m: EntityManager, unseenAfter: number): Promise<Entities> {
    const late = entities();
    const rows = await m.query<{ routing_key: string; payload: string }[]>(
      `SELECT o.routing_key, o.payload FROM outbox o LEFT JOIN processed_events p ON p.event_id = o.event_id
       WHERE o.id > ? AND p.event_id IS NULL`,
      [unseenAfter],
    );
    for (const r of rows) {
      const parsed = parseEvent(r.routing_key, r.payload);
      if (parsed.ok) entitiesOf(parsed.event, late);
    }
    return late;
  }

  private async checkVideos(
    m: EntityManager,
    ids: number[],
    unseenAfter: number,
    run: ReconcileRun,
  ): Promise<number[]> {
    const current = await m.query<{ id: number; l: number; c: number; p: number }[]>(
      `SELECT id, likes_count AS l, comments_count AS c, popularity AS p FROM videos WHERE id IN (${placeholders(ids.length)}) ORDER BY id${lockClause(this.db.dialect, 'update')}`,
      ids,
    );
    if (current.length === 0) return [];
    const late = await this.lateInFlight(m, unseenAfter);
    const present = current.map((r) => Number(r.id));
    const likes = await countBy(m, 'likes', 'video_id', present);
    const comments = await countBy(m, 'comments', 'video_id', present);
    const fixed: number[] = [];
    for (const r of current) {
      const id = Number(r.id);
      if (late.videos.has(id)) continue;
      const l = likes.get(id) ?? 0;
      const c = comments.get(id) ?? 0;
      const want = { likes_count: l, comments_count: c, popularity: l + c };
      const have = { likes_count: Number(r.l), comments_count: Number(r.c), popularity: Number(r.p) };
      const off = (['likes_count', 'comments_count', 'popularity'] as const).filter(
        (k) => want[k] !== have[k],
      );
      if (off.length === 0) continue;
      for (const k of off) run.fixed[k]++;
      this.logger.error(
        `video ${id}: ${off.map((k) => `${k} ${have[k]} → ${want[k]}`).join(', ')} (from its rows)`,
      );
      await m.query('UPDATE videos SET likes_count = ?, comments_count = ?, popularity = ? WHERE id = ?', [
        want.likes_count,
        want.comments_count,
        want.popularity,
        id,
      ]);
      fixed.push(id);
    }
    return fixed;
  }

  private async checkAccounts(
    m: EntityManager,
    ids: number[],
    unseenAfter: number,
    run: ReconcileRun,
  ): Promise<number[]> {
    const current = await m.query<{ id: number; f: number; g: number }[]>(
      `SELECT id, follower_count AS f, vlogger_count AS g FROM accounts WHERE id IN (${placeholders(ids.length)}) ORDER BY id${lockClause(this.db.dialect, 'update')}`,
      ids,
    );
    if (current.length === 0) return [];
    const late = await this.lateInFlight(m, unseenAfter);
    const present = current.map((r) => Number(r.id));
    const followers = await countBy(m, 'socials', 'vlogger_id', present);
    const vloggers = await countBy(m, 'socials', 'follower_id', present);
    const fixed: number[] = [];
    for (const r of current) {
      const id = Number(r.id);
      if (late.accounts.has(id)) continue;
      const want = { follower_count: followers.get(id) ?? 0, vlogger_count: vloggers.get(id) ?? 0 };
      const have = { follower_count: Number(r.f), vlogger_count: Number(r.g) };
      const off = (['follower_count', 'vlogger_count'] as const).filter((k) => want[k] !== have[k]);
      if (off.length === 0) continue;
      for (const k of off) run.fixed[k]++;
      this.logger.error(
        `account ${id}: ${off.map((k) => `${k} ${have[k]} → ${want[k]}`).join(', ')} (from its rows)`,
      );
      await m.query('UPDATE accounts SET follower_count = ?, vlogger_count = ? WHERE id = ?', [
        want.follower_count,
        want.vlogger_count,
        id,
      ]);
      fixed.push(id);
    }
    return fixed;
  }
}

async function countBy(
  m: EntityManager,
  table: string,
  column: string,
  ids: number[],
): Promise<Map<number, number>> {
  const rows = await m.query<{ k: number; n: number }[]>(
    `SELECT ${column} AS k, COUNT(*) AS n FROM ${table} WHERE ${column} IN (${placeholders(ids.length)}) GROUP BY ${column}`,
    ids,
  );
  return new Map(rows.map((r) => [Number(r.k), Number(r.n)]));
}

function unique(ids: number[]): number[] {
  return [...new Set(ids)];
}
