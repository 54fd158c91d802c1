import { request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/** Helpers of the notification suites: an SSE client that parses `text/event-stream` as browsers do. */

export interface SseEvent {
  event: string;
  id?: string;
  data: string;
  at: number;
}

/** Listens on a free local port (supertest then uses it too); returns the port. */
export async function listen(app: NestFastifyApplication): Promise<number> {
  const server = app.getHttpServer();
  if (!server.listening) await app.listen(0, '127.0.0.1');
  return (server.address() as AddressInfo).port;
}

/**
 * Waits for `promise`, but at most `ms`; the timer is cleared either way, so a stream that ends
 * early leaves no timer behind to hold the Jest worker open after the file.
 */
export async function atMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  /** Resolves when the server ends or cuts the response. */
  readonly ended: Promise<void>;
  endedAt = 0;
  body = '';
  private buffer = '';
  private current: { event?: string; id?: string; data: string[] } = { data: [] };
  private waiters: (() => void)[] = [];
  private settle!: () => void;

  private constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    private readonly req: ClientRequest,
    readonly res: IncomingMessage,
  ) {
    this.ended = new Promise((resolve) => (this.settle = resolve));
    const done = (): void => {
      if (!this.endedAt) this.endedAt = Date.now();
      this.settle();
      this.wake();
    };
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.feed(chunk));
    res.on('end', done);
    res.on('close', done);
    res.on('error', done);
  }

  /** Opens `GET path`; resolves once the response headers arrived (any status). */
  static open(port: number, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers, agent: false }, (res) =>
        resolve(new SseClient(res.statusCode ?? 0, res.headers, req, res)),
      );
      req.on('error', reject);
      req.end();
    });
  }

  get closed(): boolean {
    return this.endedAt > 0;
  }

  notifications<T = Record<string, unknown>>(): (T & { id: number })[] {
    return this.events
      .filter((e) => e.event === 'notification')
      .map((e) => JSON.parse(e.data) as T & { id: number });
  }

  /** Waits for the first event (already received or to come) that `match` accepts. */
  async next(match: (e: SseEvent) => boolean, timeoutMs = 5000): Promise<SseEvent> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (this.closed) throw new Error(`stream ended without the event; saw ${JSON.stringify(this.events)}`);
      const left = end - Date.now();
      if (left <= 0)
        throw new Error(`no such event within ${timeoutMs} ms; saw ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits until `n` notification events have arrived. */
  async count(n: number, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.notifications().length < n) {
      if (Date.now() > end || this.closed) {
        throw new Error(`expected ${n} notifications, got ${this.notifications().length}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.req.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private feed(chunk: string): void {
    if (this.status !== 200) {
      this.body += chunk;
      return;
    }
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.line(line);
    }
    this.wake();
  }

  private line(line: string): void {
    if (line === '') {
      if (this.current.data.length > 0) {
        this.events.push({
          event: this.current.event ?? 'message',
          id: this.current.id,
          data: this.current.data.join('\n'),
          at: Date.now(),
        });
      }
      this.current = { data: [] };
      return;
    }
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trim());
      return;
    }
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'data') this.current.data.push(value);
    else if (field === 'event') this.current.event = value;
    else if (field === 'id') this.current.id = value;
  }
}
