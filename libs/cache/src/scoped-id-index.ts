import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { CacheStore } from './cache-store';
import {
  addToBuild,
  beginBuild,
  BUILD_CHUNK,
  BUILD_TTL_MS,
  finishBuild,
  FLOOR_HINT_MS,
  INDEX_TTL_MS,
  IndexEntry,
  indexMember,
  pushEntry,
  readIndex,
  REPAIR_EVERY_MS,
} from './id-index';

/** How one family of indexes is named, bounded and built. */
export interface ScopedIdIndexOptions {
  /** For logs ("latest index", "author index"). */
  name: string;
  /** The index's two keys (sorted set, meta hash) for a scope, without the store's prefix. */
  keys: (scope: string) => [string, string];
  /** How many entries an index keeps (the newest); 0 = no index. */
  cap: number;
  /**
   * The newest `take` entries of the scope, newest first, from the primary (pushes cover only what
   * commits after this read); with `before`, the `take` newest entries older than it. A family whose
   * `load` honours `before` sets {@link paged}: its builds read and send {@link BUILD_CHUNK} at a time.
   */
  load: (scope: string, take: number, before?: IndexEntry) => Promise<IndexEntry[]>;
  /**
   * `load` takes a cursor: a large index (the latest one) is built in parts, so no build parses
   * hundreds of thousands of rows in one turn of the event loop (~150 ms for 200,000) or holds them
   * all at once.
   */
  paged?: boolean;
  /** Entries per part of a paged build (default {@link BUILD_CHUNK}; tests take a few). */
  partSize?: number;
}

/** Processes keep at most this many scopes' floors and owed drops (beyond it the floors are forgotten). */
const MAX_REMEMBERED_SCOPES = 10_000;

/**
 * A family of bounded id indexes in Redis, one per scope (the latest videos: one scope; an
 * author's or a tag's videos: one per author or tag), in the timelines' layout and scripts
 * ({@link readIndex}). An index is built from the primary after the first read that misses it
 * (that read is answered by the caller's SQL query, so a cold scope costs its reader no more),
 * kept current by pushes (a publish, from the request after its commit and again from the
 * `video.publish` handler: idempotent) and removals (a delete after its commit), and lives
 * {@link INDEX_TTL_MS} from its build. A read is answered only when the index can prove it
 * complete: a full page past the cursor, or an index that holds every entry of its scope. A
 * push or removal Redis refused makes this process skip that scope until the index is dropped
 * (retried every {@link REPAIR_EVERY_MS}); the next read rebuilds it. Without Redis, or with the
 * cap 0, nothing is read: the caller's SQL query answers.
 */
export class ScopedIdIndex {
  private readonly logger: Logger;
  private readonly building = new Map<string, Promise<void>>();
  /** Per scope: the floor's ms seen by the last read (0 = the index holds every entry), and until when it is trusted. */
  private readonly floorHints = new Map<string, { ms: number; until: number }>();
  /** Scopes whose push or removal Redis refused: not read here until their index is dropped. */
  private readonly owed = new Set<string>();
  private repairTimer: NodeJS.Timeout | undefined;
  /** Closed (module destroy): no build starts; one still running fails quietly. */
  private closed = false;

  constructor(
    private readonly store: CacheStore,
    private readonly opts: ScopedIdIndexOptions,
  ) {
    this.logger = new Logger(`ScopedIdIndex(${opts.name})`);
  }

  get enabled(): boolean {
    return this.store.kind === 'redis' && this.opts.cap > 0;
  }

  private prefixed(prefix: string, scope: string): [string, string] {
    const [z, m] = this.opts.keys(scope);
    return [prefix + z, prefix + m];
  }

  /**
   * The ids past the cursor (`latestTime` ms, then ids below `idBefore` at that ms; `idBefore` 0 =
   * strictly before the ms; `latestTime` 0 = from the newest), newest first: `take` of them, or
   * every one there is; `undefined` when the index cannot answer (the caller runs its SQL query).
   */
  async ids(
    scope: string,
    take: number,
    latestTime: number,
    idBefore: number,
  ): Promise<number[] | undefined> {
    if (!this.enabled || this.owed.has(scope)) return undefined;
    const hint = this.floorHints.get(scope);
    if (latestTime > 0 && hint && hint.until > Date.now() && latestTime < hint.ms) return undefined;
    const keys = (prefix: string) => this.prefixed(prefix, scope);
    const read = await readIndex(this.store, keys, take, latestTime, idBefore);
    if (read?.kind === 'miss') {
      // Built off this request's path: this page comes from SQL, the next from the index.
      void this.build(scope);
      return undefined;
    }
    if (read === undefined || read.kind !== 'ok') return undefined;
    if (this.floorHints.size >= MAX_REMEMBERED_SCOPES) this.floorHints.clear();
    this.floorHints.set(scope, { ms: read.floor?.time ?? 0, until: Date.now() + FLOOR_HINT_MS });
    // Every entry at or above the floor is there: a full page past the cursor is exact.
    if (read.entries.length < take && read.floor !== null) return undefined;
    return read.entries.map((e) => e.id);
  }

  /** Scopes whose index this process may not read: a push or removal Redis refused, not yet dropped. */
  distrusted(): string[] {
    return this.owed.size === 0 ? [] : [...this.owed];
  }

  /** Builds these scopes' indexes where there are none, off the caller's path. */
  buildMissing(scopes: string[]): void {
    if (!this.enabled) return;
    for (const scope of scopes) void this.build(scope);
  }

  /** Builds the scope's index if it has none (tests, warm-up); resolves when that build (or one this process runs) ended. */
  async warm(scope: string): Promise<void> {
    if (!this.enabled) return;
    const running = this.building.get(scope);
    if (running) return running;
    const read = await readIndex(this.store, (p) => this.prefixed(p, scope), 1, 0, 0);
    if (read?.kind === 'miss') await this.build(scope);
  }

  /** One build per scope and process at a time (one running elsewhere makes this one a no-op). */
  private build(scope: string): Promise<void> {
    let running = this.building.get(scope);
    if (running === undefined) {
      if (this.closed) return Promise.resolve();
      running = this.buildOnce(scope)
        .catch((err: unknown) => {
          if (!this.closed) this.logger.warn(`build of "${scope}" failed: ${String(err)}`);
        })
        .finally(() => this.building.delete(scope));
      this.building.set(scope, running);
    }
    return running;
  }

  private async buildOnce(scope: string): Promise<void> {
    const token = randomUUID();
    const keys = (prefix: string) => this.prefixed(prefix, scope);
    if (!(await beginBuild(this.store, keys, token, BUILD_TTL_MS, ''))) return;
    if (this.opts.paged === true && this.opts.cap > this.partSize) return this.buildInParts(scope, token);
    const entries = await this.opts.load(scope, this.opts.cap + 1);
    await finishBuild(
      this.store,
      keys,
      {
        token,
        ttlMs: INDEX_TTL_MS,
        cap: this.opts.cap,
        all: entries.length <= this.opts.cap,
        version: '0',
        extra: '',
        entries: entries.slice(0, this.opts.cap),
      },
      BUILD_TTL_MS,
    );
  }

  private get partSize(): number {
    return Math.max(1, this.opts.partSize ?? BUILD_CHUNK);
  }

  /**
   * A paged build: {@link BUILD_CHUNK} entries read and sent at a time, the last part with the
   * finish. Each part is its own read of the primary, so a video published meanwhile comes by its
   * push (the index is building: pushes land in it), and one deleted after its part was read is
   * removed by its delete's removal or, if that ran first, by the first page that finds it gone.
   */
  private async buildInParts(scope: string, token: string): Promise<void> {
    const keys = (prefix: string) => this.prefixed(prefix, scope);
    const cap = this.opts.cap;
    let sent = 0;
    let before: IndexEntry | undefined;
    for (;;) {
      const take = Math.min(this.partSize, cap - sent);
      // One more than a part when it is the last allowed, to tell whether the scope holds more.
      const part = await this.opts.load(scope, sent + take >= cap ? take + 1 : take, before);
      const last = part.length < take || sent + take >= cap;
      if (last) {
        await finishBuild(
          this.store,
          keys,
          {
            token,
            ttlMs: INDEX_TTL_MS,
            cap,
            all: part.length <= take,
            version: '0',
            extra: '',
            entries: part.slice(0, take),
          },
          BUILD_TTL_MS,
        );
        return;
      }
      if (!(await addToBuild(this.store, keys, token, BUILD_TTL_MS, part))) return;
      sent += part.length;
      before = part[part.length - 1];
    }
  }

  /** Entries into the scopes' indexes (those that exist). Never throws: a refusal drops them. */
  async push(items: { scope: string; entry: IndexEntry }[]): Promise<void> {
    if (!this.enabled || items.length === 0) return;
    const ok = await this.store.withRedis((redis, prefix) =>
      Promise.all(items.map((i) => pushEntry(redis, this.prefixed(prefix, i.scope), i.entry, this.opts.cap))),
    );
    if (ok === undefined) this.owe(items.map((i) => i.scope));
  }

  /** Ids out of a scope's index. Never throws: a refusal drops it. */
  async remove(scope: string, ids: number[]): Promise<void> {
    if (!this.enabled || ids.length === 0) return;
    const ok = await this.store.withRedis((redis, prefix) =>
      redis.zrem(this.prefixed(prefix, scope)[0], ...ids.map(indexMember)),
    );
    if (ok === undefined) this.owe([scope]);
  }

  private owe(scopes: string[]): void {
    for (const s of scopes) this.owed.add(s);
    this.repairTimer ??= setInterval(() => void this.repair(), REPAIR_EVERY_MS);
    this.repairTimer.unref();
  }

  private async repair(): Promise<void> {
    const scopes = [...this.owed];
    for (const scope of scopes) {
      const [z, m] = this.opts.keys(scope);
      if (!(await this.store.del(z, m))) return;
      this.owed.delete(scope);
    }
    if (this.owed.size > 0) return;
    if (this.repairTimer) clearInterval(this.repairTimer);
    this.repairTimer = undefined;
    this.logger.log(`${scopes.length} index(es) dropped after a refused write; rebuilt on their next read`);
  }

  /** Stops the repair timer (module destroy). */
  close(): void {
    this.closed = true;
    if (this.repairTimer) clearInterval(this.repairTimer);
    this.repairTimer = undefined;
  }
}
