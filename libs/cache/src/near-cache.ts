import { Logger } from '@nestjs/common';
import Redis from 'ioredis';

/** A fill's claim on a key, taken before the read it fills from is sent ({@link NearCache.ticket}). */
export interface NearTicket {
  readonly key: string;
  readonly id: number;
  readonly epoch: number;
}

/** Keys of these families (without the store's prefix) are held near; every other key is not. */
export const NEAR_PREFIXES = [
  // The token cache (SPEC §2): a logged-in read's revocation check.
  'account:',
  // A viewer's liked set (`is_liked` of pages) and its version.
  'liked:{uid=',
  // The video-list generation that validates shared pages.
  'feed:videos:gen',
  // getDetail's entries.
  'video:detail:id=',
] as const;

export interface NearCacheOptions {
  /** The Redis server the store uses (`redis://…`; one server, not a cluster). */
  url: string;
  /** The store's key prefix (`REDIS_KEY_PREFIX`). */
  prefix: string;
  /** Entries held at most (the oldest dropped first). */
  maxEntries?: number;
  /** An entry is read again from Redis after this long, whatever it was told (a second line of defence). */
  maxAgeMs?: number;
  /**
   * The subscribed connection is PINGed this often; nothing is used once a PONG is this late
   * (`heartbeatMs` + the larger of 1 s and 4 × `timeoutMs`), so a connection that went silent without closing (a partition)
   * cannot leave stale values in use for longer.
   */
  heartbeatMs?: number;
  timeoutMs?: number;
}

interface Entry {
  value: unknown;
  until: number;
}

const INVALIDATE_CHANNEL = '__redis__:invalidate';

/**
 * Values of a few hot Redis keys held in this process, kept current by Redis itself (issue 14: a
 * logged-in first page or a `getDetail` with no Redis round trip). Redis's server-assisted
 * client-side caching in broadcasting mode: a control connection turns `CLIENT TRACKING ON BCAST`
 * on for {@link NEAR_PREFIXES} under the store's prefix, redirected to a second connection
 * subscribed to `__redis__:invalidate`; Redis then names every key under those prefixes that any
 * client changes, deletes or lets expire, and the entry is dropped here.
 *
 * When a value may be used:
 * - **Armed.** Only while both connections are up and tracking was turned on after the cache was
 *   emptied. Either connection closing empties it and stops its use until both are back and
 *   tracking is on again (Redis stops telling a client that is gone; a value held across that gap
 *   could be stale).
 * - **Fills.** A fill takes a ticket before its read is sent; an invalidation of that key, a write
 *   of it by this process, or a re-arm after the ticket cancels the fill. So a value read before a
 *   change is never stored after the change was told.
 * - **This process's writes.** Redis tells the change on the other connection, so a read right
 *   after a write of ours could come before the message. A write of known keys drops them here
 *   before it is sent ({@link evict}); a write whose keys are not known here (a script run through
 *   `withRedis`) raises a fence: nothing is used from the start of the write until a PING on the
 *   subscribed connection, sent after the write answered, has come back — Redis queues a change's
 *   invalidation on that connection before it answers the write, so the PONG comes after it.
 * - **Other processes' writes.** Their invalidation is queued by Redis before their write is
 *   answered, so it is in this process's socket before anything that follows from that write (its
 *   HTTP answer, the caller's next request) can reach this process; libuv handles ready sockets in
 *   the order they became ready.
 * - **Age.** An entry is used for {@link NearCacheOptions.maxAgeMs} at most.
 *
 * The connections are opened on first use, so a process that never reads through it (the worker)
 * holds none.
 */
export class NearCache {
  private readonly logger = new Logger('NearCache');
  private readonly entries = new Map<string, Entry>();
  /** Fills under way: key → the ticket id that may store. */
  private readonly pending = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;
  private nextTicket = 0;
  /** Moves on every arm and disarm: tickets of another epoch store nothing. */
  private epoch = 0;
  private armed = false;
  private arming = false;
  private started = false;
  private closed = false;
  private sub: Redis | undefined;
  private ctl: Redis | undefined;
  /** Writes with unknown keys under way, and the fence they raise ({@link fence}, {@link usable}). */
  private writing = 0;
  private writeSeq = 0;
  private syncedSeq = 0;
  private syncing = false;
  private readonly heartbeatMs: number;
  private readonly silenceMs: number;
  private heartbeat: NodeJS.Timeout | undefined;
  /** When the subscribed connection last answered (a PONG; set when armed). */
  private heardAt = 0;
  private armCount = 0;
  /** Closes of either connection so far: an arm that saw one meanwhile set up a connection that is gone. */
  private closes = 0;
  /** The subscribed connection's closes, and its client id once subscribed (valid for that many closes). */
  private subCloses = 0;
  private subscribedAs: { id: number; subCloses: number } | undefined;

  constructor(private readonly opts: NearCacheOptions) {
    this.maxEntries = opts.maxEntries ?? 50_000;
    this.maxAgeMs = opts.maxAgeMs ?? 60_000;
    this.heartbeatMs = opts.heartbeatMs ?? 500;
    this.silenceMs = this.heartbeatMs + Math.max(1000, 4 * (opts.timeoutMs ?? 250));
  }

  /** Whether `key` (without the prefix) is of a family held near. */
  static holds(key: string): boolean {
    for (const p of NEAR_PREFIXES) if (key.startsWith(p)) return true;
    return false;
  }

  /** Whether values may be used and filled now. */
  get usable(): boolean {
    if (!this.started) this.start();
    return (
      this.armed &&
      this.writing === 0 &&
      this.syncedSeq === this.writeSeq &&
      Date.now() - this.heardAt < this.silenceMs
    );
  }

  /** Drops every value held and every fill under way (Redis stopped answering this process). */
  clear(): void {
    this.epoch++;
    this.entries.clear();
    this.pending.clear();
  }

  /** The value held for `key`, or undefined (not held, too old, or not {@link usable}). */
  get<T>(key: string): T | undefined {
    if (!this.usable) return undefined;
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (Date.now() >= e.until) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value as T;
  }

  /** A claim to fill `key` from a read about to be sent; undefined when nothing may be filled now. */
  ticket(key: string): NearTicket | undefined {
    if (!this.usable || !NearCache.holds(key)) return undefined;
    const id = ++this.nextTicket;
    this.pending.set(key, id);
    return { key, id, epoch: this.epoch };
  }

  /** Stores the value the ticket's read returned, unless the key changed (or the cache re-armed) since. */
  fill(ticket: NearTicket, value: unknown): void {
    this.update(ticket, () => value);
  }

  /** As {@link fill}, the new value from the one held (e.g. more of a set's members). */
  update<T>(ticket: NearTicket, next: (held: T | undefined) => T): void {
    if (this.pending.get(ticket.key) !== ticket.id) return;
    this.pending.delete(ticket.key);
    if (ticket.epoch !== this.epoch || !this.usable) return;
    const held = this.entries.get(ticket.key);
    const value = next(held !== undefined && Date.now() < held.until ? (held.value as T) : undefined);
    this.entries.delete(ticket.key);
    this.entries.set(ticket.key, { value, until: Date.now() + this.maxAgeMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  /** A write of these keys (without the prefix) is about to be sent: their values and fills are dropped. */
  evict(keys: Iterable<string>): void {
    for (const k of keys) {
      this.entries.delete(k);
      this.pending.delete(k);
    }
  }

  /**
   * A write whose keys are not known here is about to be sent: nothing is used or filled until it
   * has answered and the subscribed connection has passed on what it changed. Returns the call
   * that ends it (once, when the write has answered or failed).
   */
  fence(): () => void {
    this.writing++;
    this.writeSeq++;
    this.pending.clear();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.writing--;
      if (this.writing === 0) this.sync();
    };
  }

  /** How many values are held (tests, metrics). */
  get size(): number {
    return this.entries.size;
  }

  /** Whether tracking is on and values are being held (tests, health). */
  get isArmed(): boolean {
    return this.armed;
  }

  /** How many times tracking was turned on (tests: a re-arm after a lost connection). */
  get arms(): number {
    return this.armCount;
  }

  private sync(): void {
    if (this.syncing || this.sub === undefined || !this.armed) return;
    const seq = this.writeSeq;
    this.syncing = true;
    // A PONG tells that whatever Redis queued on this connection before it has been handled here.
    this.sub.ping().then(
      () => {
        this.syncing = false;
        this.heardAt = Date.now();
        this.syncedSeq = Math.max(this.syncedSeq, seq);
        if (this.writing === 0 && this.syncedSeq !== this.writeSeq) this.sync();
      },
      () => {
        // The connection failed: its close disarms; a re-arm ends the fence.
        this.syncing = false;
      },
    );
  }

  private start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    const options = {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResubscribe: false,
      connectTimeout: 2000,
      retryStrategy: (times: number): number => Math.min(100 * times, 2000),
    };
    // Named for `CLIENT LIST` (and the tests), with the prefix that tells apart stores on one server.
    const sub = new Redis(this.opts.url, { ...options, connectionName: `fsv-near-sub:${this.opts.prefix}` });
    const ctl = new Redis(this.opts.url, { ...options, connectionName: `fsv-near-ctl:${this.opts.prefix}` });
    this.sub = sub;
    this.ctl = ctl;
    for (const c of [sub, ctl]) {
      c.on('error', () => undefined);
      c.on('close', () => {
        this.closes++;
        if (c === sub) this.subCloses++;
        this.disarm();
      });
      c.on('ready', () => void this.arm());
    }
    sub.on('messageBuffer', (channel: Buffer, message: unknown) => this.invalidated(channel, message));
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  /** A PING on the subscribed connection; a PONG that does not come in time disarms (and reconnects). */
  private beat(): void {
    const sub = this.sub;
    if (!this.armed || sub === undefined) return;
    // A fence whose PING failed (it never ends otherwise).
    if (this.writing === 0 && this.syncedSeq !== this.writeSeq) this.sync();
    if (Date.now() - this.heardAt >= this.silenceMs) {
      this.logger.warn('Redis tracking connection silent: near cache off, reconnecting');
      this.disarm();
      sub.disconnect(true);
      return;
    }
    sub.ping().then(
      () => (this.heardAt = Date.now()),
      () => undefined,
    );
  }

  private invalidated(channel: Buffer, message: unknown): void {
    if (channel.toString() !== INVALIDATE_CHANNEL) return;
    if (!Array.isArray(message)) {
      // A flush: every key is gone.
      this.entries.clear();
      this.pending.clear();
      return;
    }
    const prefix = this.opts.prefix;
    for (const raw of message as unknown[]) {
      const full = Buffer.isBuffer(raw) ? raw.toString() : String(raw);
      const key = full.startsWith(prefix) ? full.slice(prefix.length) : full;
      this.entries.delete(key);
      this.pending.delete(key);
    }
  }

  private disarm(): void {
    // Not on close(): the process is shutting down, nothing was lost.
    if (this.armed && !this.closed) {
      this.logger.warn('Redis tracking connection lost: near cache off until it is back');
    }
    this.armed = false;
    this.epoch++;
    this.entries.clear();
    this.pending.clear();
    this.syncing = false;
  }

  /** Once both connections are ready: subscribe, turn tracking on, then hold values again. */
  private async arm(): Promise<void> {
    const { sub, ctl } = this;
    if (this.arming || this.armed || this.closed || !sub || !ctl) return;
    if (sub.status !== 'ready' || ctl.status !== 'ready') return;
    this.arming = true;
    const closes = this.closes;
    try {
      // Only the control connection came back: the subscribed one (which takes no other command) stays.
      let id = this.subscribedAs?.subCloses === this.subCloses ? this.subscribedAs.id : undefined;
      if (id === undefined) {
        const subCloses = this.subCloses;
        id = Number(await sub.client('ID'));
        await sub.subscribe(INVALIDATE_CHANNEL);
        this.subscribedAs = { id, subCloses };
      }
      await ctl.client('TRACKING', 'OFF');
      const prefixes = NEAR_PREFIXES.flatMap((p) => ['PREFIX', this.opts.prefix + p]);
      await ctl.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', ...prefixes);
      // A connection closed meanwhile (and perhaps came back as a new one, not subscribed or not
      // tracking): not armed; tried again below.
      if (closes !== this.closes || this.closed) return;
      this.epoch++;
      this.entries.clear();
      this.pending.clear();
      // Writes still under way end the fence themselves (their PING follows them).
      if (this.writing === 0) this.syncedSeq = this.writeSeq;
      this.heardAt = Date.now();
      this.armed = true;
      this.armCount++;
    } catch (err) {
      this.logger.warn(`near cache not armed: ${String(err)}`);
      // A server without tracking (Redis < 6) or a refused command: stay off; a reconnect tries again.
    } finally {
      this.arming = false;
    }
    // Both came back while this arm ran (their `ready` found it running): arm them now.
    if (!this.armed && closes !== this.closes) setTimeout(() => void this.arm(), 100).unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    this.disarm();
    await Promise.all(
      [this.sub, this.ctl].map(async (c) => {
        if (c === undefined) return;
        try {
          await c.quit();
        } catch {
          c.disconnect();
        }
      }),
    );
  }
}
