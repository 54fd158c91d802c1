import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { finalize, Observable } from 'rxjs';

/**
 * The Nest route handlers running now, for the api's close ({@link closeApp}). The HTTP drain
 * ends once every connection has closed, but a handler whose client went away (a client or a load
 * balancer that drops its connections at SIGTERM) still runs: a like inside its transaction, a
 * delete between its commit and its cache invalidation. It must finish before the connections to
 * the database, Redis and the broker close, or its write fails half-way through its effects.
 * Counted from this interceptor (after the guards) to the end of the handler, whether it answered,
 * threw, or its client is gone. The fast reads (answered in Fastify's hooks) write nothing and are
 * not counted.
 */
@Injectable()
export class InFlightHandlers implements NestInterceptor {
  private running = 0;
  private readonly waiting = new Set<() => void>();

  intercept(_ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    this.running++;
    return next.handle().pipe(finalize(() => this.leave()));
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

  private leave(): void {
    this.running--;
    if (this.running === 0) for (const done of [...this.waiting]) done();
  }
}
