import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import { AccountTokenChanges } from '@app/account';
import { CacheStore } from '@app/cache';
import { APP_CONFIG, type AppConfig } from '@app/core';
import {
  NotificationLive,
  NotificationRepository,
  NotificationService,
  toNotificationView,
  type LiveMessage,
  type NotificationView,
} from '@app/notification';
import { EndReason, SseStream } from './sse-stream';
import { HEARTBEAT_MS, MAX_STREAMS_PER_ACCOUNT, StreamCap } from './stream-cap';

/** SPEC §8.4: a `: keepalive` comment this often (also the cap's heartbeat). */
export const KEEPALIVE_MS = HEARTBEAT_MS;
/**
 * Every open stream's token is checked against `accounts.token` this often (one query per 500
 * accounts), and expired tokens' streams closed: revocation within 5 s even when the pub/sub
 * message of a revocation on another process was lost.
 */
export const TOKEN_SWEEP_MS = 4000;
/** While other processes' notifications cannot arrive by pub/sub, streams catch up from the database this often. */
export const CATCH_UP_MS = 1000;
const SWEEP_CHUNK = 500;
const CATCH_UP_ROWS = 500;

/** An authenticated stream request (the controller ran SPEC §2's checks). */
export interface StreamRequest {
  accountId: number;
  tokenDigest: string;
  expiresAt: number;
  /** `Last-Event-ID`: replay what came after it. */
  lastEventId?: number;
}

/**
 * The open notification streams of this api process (SPEC §8.4). Live notifications reach them
 * through {@link NotificationLive} (one subscription per account with streams here); one
 * interval sends every stream's keep-alive, one sweeps tokens; nothing runs while no stream is
 * open. Revocation: {@link AccountTokenChanges} → a `token` message on the account's channel →
 * every process holding its streams re-reads `accounts.token` and closes those whose token is no
 * longer current, at once; the 4 s sweep is the fallback. The cap: at most 5 streams per account
 * over all processes ({@link StreamCap}); a new stream over it closes the account's oldest.
 */
@Injectable()
export class NotificationStreams implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(NotificationStreams.name);
  private readonly byAccount = new Map<number, Set<SseStream>>();
  private readonly subscriptions = new Map<number, Promise<() => void>>();
  private readonly cap: StreamCap;
  private timers: NodeJS.Timeout[] = [];
  private seq = 0;
  private catchingUp = false;
  private sweeping = false;
  private stopListening: (() => void)[] = [];

  constructor(
    private readonly live: NotificationLive,
    private readonly notifications: NotificationService,
    private readonly repo: NotificationRepository,
    private readonly tokenChanges: AccountTokenChanges,
    cache: CacheStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.cap = new StreamCap(cache);
  }

  onModuleInit(): void {
    this.stopListening = [
      this.tokenChanges.onRevoked((accountId) => void this.live.publish(accountId, { kind: 'token' })),
      this.live.onResubscribed(() => void this.catchUp()),
    ];
  }

  onModuleDestroy(): void {
    for (const stop of this.stopListening) stop();
    this.endAll();
  }

  /**
   * Ends every open stream (a `shutdown` end): the api's close does this before it stops its HTTP
   * server (Fastify's `preClose`), which otherwise waits for these long-lived responses.
   */
  endAll(): void {
    for (const set of [...this.byAccount.values()]) for (const s of [...set]) s.end(EndReason.shutdown);
    this.stopTimers();
  }

  /** Open streams in this process (all accounts, or one). */
  count(accountId?: number): number {
    if (accountId !== undefined) return this.byAccount.get(accountId)?.size ?? 0;
    let n = 0;
    for (const set of this.byAccount.values()) n += set.size;
    return n;
  }

  /**
   * Opens a stream: caps the account's streams, subscribes, reads the replay; only then hijacks
   * the reply, so a failure up to there is an ordinary error response. Notifications published
   * meanwhile are held by the stream and sent after the replay.
   */
  async open(req: FastifyRequest, reply: FastifyReply, r: StreamRequest): Promise<void> {
    const now = Date.now();
    const id = `${String(now).padStart(15, '0')}.${this.live.instanceId}.${++this.seq}`;
    const stream = new SseStream(id, r.accountId, r.tokenDigest, r.expiresAt, (s) => this.closed(s));
    this.add(stream);
    let replay: NotificationView[];
    try {
      await this.enforceCap(stream, now);
      await this.subscription(r.accountId);
      if (r.lastEventId !== undefined) {
        replay = await this.notifications.missed(r.accountId, r.lastEventId);
        stream.lastId = r.lastEventId;
      } else {
        replay = [];
        stream.lastId = await this.repo.lastId(r.accountId);
      }
    } catch (err) {
      stream.end(EndReason.shutdown);
      throw err;
    }
    reply.hijack();
    stream.attach(reply, this.headers(req, reply), replay);
  }

  private headers(req: FastifyRequest, reply: FastifyReply): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) out[k] = v;
    return {
      ...out,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      'x-request-id': req.id,
    };
  }

  private add(stream: SseStream): void {
    let set = this.byAccount.get(stream.accountId);
    if (!set) this.byAccount.set(stream.accountId, (set = new Set()));
    set.add(stream);
    if (this.timers.length === 0) this.startTimers();
  }

  private closed(stream: SseStream): void {
    const set = this.byAccount.get(stream.accountId);
    if (!set?.delete(stream)) return;
    void this.cap.release(stream.accountId, stream.id);
    if (set.size === 0) {
      this.byAccount.delete(stream.accountId);
      const sub = this.subscriptions.get(stream.accountId);
      this.subscriptions.delete(stream.accountId);
      void sub?.then((unsubscribe) => unsubscribe());
    }
    if (this.byAccount.size === 0) this.stopTimers();
  }

  /** At most {@link MAX_STREAMS_PER_ACCOUNT} per account: the oldest beyond it are told and closed. */
  private async enforceCap(stream: SseStream, now: number): Promise<void> {
    const others = [...(this.byAccount.get(stream.accountId) ?? [])]
      .filter((s) => s !== stream)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const local = others.slice(0, Math.max(0, others.length + 1 - MAX_STREAMS_PER_ACCOUNT)).map((s) => s.id);
    const global = (await this.cap.reserve(stream.accountId, stream.id, now)) ?? [];
    const evict = [...new Set([...local, ...global])];
    if (evict.length === 0) return;
    for (const s of others) if (evict.includes(s.id)) s.end(EndReason.superseded);
    await this.live.publish(stream.accountId, { kind: 'evict', streams: evict });
  }

  /** The account's one subscription in this process, shared by its streams. */
  private subscription(accountId: number): Promise<() => void> {
    let sub = this.subscriptions.get(accountId);
    if (!sub) {
      sub = this.live.subscribe(accountId, (m) => this.onMessage(accountId, m));
      this.subscriptions.set(accountId, sub);
    }
    return sub;
  }

  private onMessage(accountId: number, m: LiveMessage): void {
    const streams = [...(this.byAccount.get(accountId) ?? [])];
    switch (m.kind) {
      case 'notification':
        for (const s of streams) s.notify(m.notification);
        break;
      case 'read':
        for (const s of streams) s.read(m.id);
        break;
      case 'token':
        void this.checkTokens([accountId]);
        break;
      case 'evict':
        for (const s of streams) if (m.streams.includes(s.id)) s.end(EndReason.superseded);
        break;
    }
  }

  /** Closes the streams whose token is no longer the account's current one, or has expired. */
  private async checkTokens(accountIds: number[]): Promise<void> {
    const now = Date.now();
    for (let i = 0; i < accountIds.length; i += SWEEP_CHUNK) {
      const chunk = accountIds.slice(i, i + SWEEP_CHUNK);
      let current: Map<number, string | null>;
      try {
        current = await this.repo.tokenDigests(chunk);
      } catch (err) {
        this.logger.warn(`token check of notification streams failed: ${(err as Error).message}`);
        return;
      }
      for (const accountId of chunk) {
        for (const s of [...(this.byAccount.get(accountId) ?? [])]) {
          if (s.tokenDigest !== (current.get(accountId) ?? null)) s.end(EndReason.revoked);
          else if (s.expiresAt <= now) s.end(EndReason.expired);
        }
      }
    }
  }

  /**
   * True while notifications created by other processes cannot arrive by pub/sub: Redis is
   * configured but the subscriber is not connected, or there is no Redis but a broker (the worker
   * creates them).
   */
  private get mustCatchUp(): boolean {
    const state = this.live.state();
    return state === 'down' || (state === 'disabled' && this.config.amqpUrl !== null);
  }

  /** Sends every attached stream what the database has above its `lastId`. */
  private async catchUp(): Promise<void> {
    if (this.catchingUp || this.byAccount.size === 0) return;
    this.catchingUp = true;
    try {
      for (let round = 0; round < 10; round++) {
        const after = new Map<number, number>();
        for (const [accountId, set] of this.byAccount) {
          for (const s of set) {
            if (!s.attached) continue;
            after.set(accountId, Math.min(after.get(accountId) ?? Number.MAX_SAFE_INTEGER, s.lastId));
          }
        }
        let rows = 0;
        for (const chunk of chunks([...after], SWEEP_CHUNK)) {
          const found = await this.repo.sinceMany(new Map(chunk), CATCH_UP_ROWS);
          rows = Math.max(rows, found.length);
          for (const n of found) {
            const view = toNotificationView(n);
            for (const s of this.byAccount.get(n.recipientId) ?? []) if (n.id > s.lastId) s.notify(view);
          }
        }
        if (rows < CATCH_UP_ROWS) break;
      }
    } catch (err) {
      this.logger.warn(`notification catch-up failed: ${(err as Error).message}`);
    } finally {
      this.catchingUp = false;
    }
  }

  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      await this.checkTokens([...this.byAccount.keys()]);
    } finally {
      this.sweeping = false;
    }
  }

  /** Keep-alives, and the cap's heartbeat: streams evicted by another process meanwhile are closed. */
  private async keepalive(): Promise<void> {
    const now = Date.now();
    for (const set of this.byAccount.values()) for (const s of set) s.keepalive();
    await Promise.all(
      [...this.byAccount].map(async ([accountId, set]) => {
        const gone = await this.cap.heartbeat(
          accountId,
          [...set].map((s) => s.id),
          now,
        );
        for (const s of [...set]) if (gone.includes(s.id)) s.end(EndReason.superseded);
      }),
    );
  }

  private startTimers(): void {
    const every = (ms: number, fn: () => Promise<void>): NodeJS.Timeout => {
      const t = setInterval(() => void fn(), ms);
      t.unref();
      return t;
    };
    this.timers = [
      every(KEEPALIVE_MS, () => this.keepalive()),
      every(TOKEN_SWEEP_MS, () => this.sweep()),
      every(CATCH_UP_MS, async () => {
        if (this.mustCatchUp) await this.catchUp();
      }),
    ];
  }

  private stopTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
