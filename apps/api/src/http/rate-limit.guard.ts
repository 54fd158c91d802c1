import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { RequestWithAccount, usernameKey } from '@app/account';
import { rateLimited } from '@app/core';
import { RATE_LIMIT, RATE_LIMIT_SELF, RateLimitUse } from './rate-limit.decorator';
import { RateLimiter, RateLimitSubject } from './rate-limit.service';

type Req = FastifyRequest & RequestWithAccount;

/**
 * SPEC §3 rate limits for routes marked `@RateLimit()` / `@RateLimitFailures()`. A global guard
 * that runs after the body check (so keys are built only from validated values) and after the
 * auth guards (so JWT routes are keyed by account): 400 before 401 before 429 (SPEC §1). A route
 * marked `@RefusesSelf(field)` is let through uncounted when that field names the caller (its
 * handler's 400, at the limit too); any other 400 the handler answers after it gives its hits
 * back, so no 400 counts (SPEC §3).
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: RateLimiter,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const uses = this.reflector.get<RateLimitUse[] | undefined>(RATE_LIMIT, ctx.getHandler());
    if (!uses?.length) return true;
    const http = ctx.switchToHttp();
    const req = http.getRequest<Req>();
    const selfField = this.reflector.get<string | undefined>(RATE_LIMIT_SELF, ctx.getHandler());
    if (selfField !== undefined && req.account !== undefined) {
      // The body was validated by BodyShapeGuard: the field is an id. Naming the caller, it is the
      // handler's 400, before any limit and never counted.
      if ((req.body as Record<string, unknown> | undefined)?.[selfField] === req.account.id) return true;
    }
    const subjects: RateLimitSubject[] = [];
    const failuresOnly = new Set<string>();
    for (const use of uses) {
      const s = this.subject(use, req);
      if (!s) continue;
      subjects.push(s);
      if (use.failuresOnly) failuresOnly.add(use.name);
    }
    const { retryAfter, counted } = await this.limiter.consume(subjects);
    const refundable = counted.filter((hit) => failuresOnly.has(hit.name));
    if (retryAfter !== null) {
      // A refused request is no attempt: it takes nothing from a failures-only limit.
      await this.limiter.refund(refundable);
      throw rateLimited(retryAfter);
    }
    const others = counted.filter((hit) => !failuresOnly.has(hit.name));
    if (counted.length > 0) {
      const reply = http.getResponse<FastifyReply>();
      reply.raw.once('finish', () => {
        const status = reply.raw.statusCode;
        // Failures-only limits keep failed attempts (changePassword's wrong password is a 400 that
        // counts); every other limit gives back a 400 the handler found (self-follow, SPEC §3: "a
        // 400 never does" count).
        const back = status < 400 || status >= 500 ? refundable : status === 400 ? others : [];
        if (back.length > 0) void this.limiter.refund(back);
      });
    }
    return true;
  }

  private subject(use: RateLimitUse, req: Req): RateLimitSubject | null {
    if (use.name === 'loginUser') {
      // The body was validated by BodyShapeGuard: a bounded, trimmed string.
      const u = (req.body as { username?: unknown } | undefined)?.username;
      if (typeof u !== 'string' || u === '') return null;
      const digest = createHash('sha256')
        .update(`${usernameKey(u)}\n${req.ip}`)
        .digest('base64url');
      return { name: use.name, subject: `u:${digest}` };
    }
    if (req.account) return { name: use.name, subject: `a:${req.account.id}` };
    return { name: use.name, subject: `ip:${req.ip}` };
  }
}
