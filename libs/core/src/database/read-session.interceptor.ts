import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { Database } from './database.service';
import type { ReadSession } from './read-routing';

interface RequestLike {
  account?: { id?: unknown };
  headers?: Record<string, string | string[] | undefined>;
}

/**
 * The account a request speaks for, for read routing only: the authenticated caller when a guard
 * set one, else the `account_id` claim of a bearer token sent to a public route (not verified:
 * it can only move that request's reads to the primary, which any caller may have by writing).
 */
export function routingAccountId(req: RequestLike): number | undefined {
  const id = req.account?.id;
  if (typeof id === 'number') return id;
  const h = req.headers?.authorization;
  const header = Array.isArray(h) ? h[0] : h;
  const m = header ? /^bearer\s+[\w-]+\.([\w-]+)\.[\w-]+$/i.exec(header.trim()) : null;
  if (!m) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8')) as { account_id?: unknown };
    return typeof claims.account_id === 'number' && Number.isSafeInteger(claims.account_id)
      ? claims.account_id
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Wraps each HTTP request in a {@link ReadSession} when read replicas are configured (else it does
 * nothing): reads through `Database.reader` then know the caller, and a caller whose request wrote
 * is remembered as a recent writer before the response leaves, so its next reads, on any api
 * process, see the write.
 */
@Injectable()
export class ReadSessionInterceptor implements NestInterceptor {
  constructor(private readonly db: Database) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!this.db.reads.enabled || ctx.getType() !== 'http') return next.handle();
    const session: ReadSession = {
      accountId: routingAccountId(ctx.switchToHttp().getRequest<RequestLike>()),
      wrote: false,
    };
    return new Observable((subscriber) => {
      const values: unknown[] = [];
      const end = (after: () => void): void => {
        void this.db.reads.endSession(session).then(after, after);
      };
      const inner = this.db.reads.runSession(session, () =>
        next.handle().subscribe({
          next: (v) => values.push(v),
          error: (err: unknown) => end(() => subscriber.error(err)),
          complete: () =>
            end(() => {
              for (const v of values) subscriber.next(v);
              subscriber.complete();
            }),
        }),
      );
      return () => inner.unsubscribe();
    });
  }
}
