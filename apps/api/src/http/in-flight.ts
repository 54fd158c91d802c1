import type { Server } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const COUNTED = Symbol('inFlight');
type Counted = FastifyRequest & { [COUNTED]?: boolean };

/**
 * The route handlers running now, for the api's close ({@link closeApp}). The HTTP drain ends
 * once every connection has closed, but a handler whose client went away (a client or a load
 * balancer that drops its connections at SIGTERM) still runs: a like inside its transaction, a
 * delete between its commit and its cache invalidation. It must finish before the connections to
 * the database, Redis and the broker close, or its write fails half-way through its effects.
 *
 * Counted with two Fastify hooks, not a Nest interceptor: one global interceptor put every Nest
 * route through Nest's observable pipeline, and cost the read/like mix 4–7 % of its rate (paired
 * against the build before) and `bench:likes` 10–20 % in most of its phases. A request
 * counts from `preHandler` (the fast reads, answered in `preParsing`, write nothing and never get
 * there) until its reply is sent (`onSend`: Nest sends every answer, an error too, through
 * Fastify, and Fastify runs `onSend` even when the client has gone), or, for a reply the handler
 * took over (`hijack`: a notification stream), until its connection closes.
 */
export class InFlightHandlers {
  private running = 0;
  private readonly waiting = new Set<() => void>();

  /** Starts counting `fastify`'s requests. */
  track(fastify: FastifyInstance): void {
    fastify.addHook('preHandler', (req, reply, done) => {
      (req as Counted)[COUNTED] = true;
      this.running++;
      // `sent` once closed: the reply was hijacked (or sent: already released). Not sent: the
      // client went away and the handler still runs; its `onSend` releases it.
      reply.raw.once('close', () => {
        if (reply.sent) this.release(req);
      });
      done();
    });
    fastify.addHook('onSend', (req, _reply, payload, done) => {
      this.release(req);
      done(null, payload);
    });
  }

  /** Handlers running now. */
  get count(): number {
    return this.running;
  }

  /** Resolves true once no handler runs (at once if none does), false after `ms`. */
  idle(ms: number): Promise<boolean> {
    if (this.running === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiting.delete(done);
        resolve(false);
      }, ms);
      this.waiting.add(done);
    });
  }

  private release(req: FastifyRequest): void {
    const r = req as Counted;
    if (!r[COUNTED]) return;
    r[COUNTED] = false;
    this.running--;
    if (this.running === 0) for (const done of [...this.waiting]) done();
  }
}

const byServer = new WeakMap<Server, InFlightHandlers>();

/** Counts the handlers of `fastify` (served by `server`), for {@link inFlightHandlers}. */
export function trackHandlers(fastify: FastifyInstance, server: Server): void {
  const handlers = new InFlightHandlers();
  handlers.track(fastify);
  byServer.set(server, handlers);
}

/** The counter {@link trackHandlers} set up for `server`. */
export function inFlightHandlers(server: Server): InFlightHandlers | undefined {
  return byServer.get(server);
}
