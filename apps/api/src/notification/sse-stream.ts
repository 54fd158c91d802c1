import type { FastifyReply } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import type { NotificationView } from '@app/notification';

/**
 * Bytes a stream may hold unsent (Node's buffer plus the socket's) before its client counts as
 * not reading: the stream is then dropped. 64 KiB is some 200 notifications, far more than a
 * reading client ever has in flight; the client reconnects with `Last-Event-ID` and is replayed
 * what it missed.
 */
export const MAX_UNSENT_BYTES = 64 * 1024;
/** Ids a stream remembers having sent (a notification published twice is sent once). */
const SENT_MEMORY = 256;
/** What a client waits before reconnecting (SSE `retry:`). */
export const RETRY_MS = 3000;

/** Why the server ends a stream: the final event it sends, if any. */
export const EndReason = {
  revoked: { event: 'revoked', data: { reason: 'token has been revoked' } },
  expired: { event: 'revoked', data: { reason: 'invalid or expired token' } },
  superseded: {
    event: 'superseded',
    data: { reason: 'too many open notification streams for this account' },
  },
  shutdown: null,
} as const;
export type EndReason = (typeof EndReason)[keyof typeof EndReason];

/**
 * One open `GET /notification/stream` (SPEC §8.4), written straight to the raw response: no
 * buffering, no per-stream timer (keep-alives come from one interval for all streams). Until
 * {@link attach} it only collects what arrives; then it writes the headers, the replay and what
 * it collected, in that order, each notification once.
 */
export class SseStream {
  private reply: FastifyReply | null = null;
  private pending: NotificationView[] = [];
  private readonly sent = new Set<number>();
  private readonly sentOrder: number[] = [];
  private done = false;
  /** The highest notification id sent (or known to the client): where a database catch-up resumes. */
  lastId = 0;

  constructor(
    /** `<opened at, 15 digits>.<process>.<n>`: orders an account's streams by age everywhere. */
    readonly id: string,
    readonly accountId: number,
    readonly tokenDigest: string,
    /** Unix ms at which the token expires (the stream is closed then). */
    readonly expiresAt: number,
    private readonly onClosed: (stream: SseStream) => void,
  ) {}

  get closed(): boolean {
    return this.done;
  }

  get attached(): boolean {
    return this.reply !== null;
  }

  /** Starts the response (the reply must be hijacked) and sends `replay`, then what arrived meanwhile. */
  attach(reply: FastifyReply, headers: OutgoingHttpHeaders, replay: NotificationView[]): void {
    const raw = reply.raw;
    if (this.done || raw.destroyed || raw.socket?.destroyed !== false) {
      this.finish();
      return;
    }
    this.reply = reply;
    raw.once('close', () => this.finish());
    // Exempt from the idle timeout (IDLE_TIMEOUT): keep-alives are the stream's own liveness.
    raw.socket.setTimeout(0);
    raw.socket.setNoDelay(true);
    raw.writeHead(200, headers);
    this.write(`retry: ${RETRY_MS}\n\n`);
    const queued = this.pending;
    this.pending = [];
    for (const n of replay) this.notify(n);
    for (const n of queued) this.notify(n);
  }

  /** Sends a notification, unless this stream has sent it already. */
  notify(n: NotificationView): void {
    if (this.done) return;
    if (!this.reply) {
      this.pending.push(n);
      return;
    }
    if (this.sent.has(n.id)) return;
    this.remember(n.id);
    this.write(`id: ${n.id}\nevent: notification\ndata: ${JSON.stringify(n)}\n\n`);
  }

  /** Notifications were marked read elsewhere (`id` 0: all): other tabs update their badge. */
  read(id: number): void {
    if (this.reply) this.write(`event: read\ndata: {"id":${id}}\n\n`);
  }

  keepalive(): void {
    if (this.reply) this.write(': keepalive\n\n');
  }

  /** Ends the response, after a final event saying why. */
  end(reason: EndReason): void {
    if (this.done) return;
    const raw = this.reply?.raw;
    if (raw && reason) {
      this.write(
        `${reason === EndReason.superseded ? 'retry: 60000\n' : ''}event: ${reason.event}\ndata: ${JSON.stringify(reason.data)}\n\n`,
      );
    }
    if (raw && !raw.destroyed) raw.end();
    this.finish();
  }

  /** The client stopped reading: the connection is cut (the buffers are freed with it). */
  drop(): void {
    this.reply?.raw.destroy();
    this.finish();
  }

  private write(chunk: string): void {
    const raw = this.reply?.raw;
    if (!raw || this.done || raw.destroyed) return;
    raw.write(chunk);
    if (raw.writableLength > MAX_UNSENT_BYTES) this.drop();
  }

  private remember(id: number): void {
    this.sent.add(id);
    this.sentOrder.push(id);
    if (this.sentOrder.length > SENT_MEMORY) this.sent.delete(this.sentOrder.shift()!);
    if (id > this.lastId) this.lastId = id;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.pending = [];
    this.onClosed(this);
  }
}
