/**
 * Authentication and rate limits for every Nest route: ONE global guard (APP_GUARD, provided by
 * AccountHttpModule). How to use it from any controller:
 *
 *   @Post('like') @RateLimit('like') @ApiBearerAuth()           // JWT is the default: no marker
 *   like(@CurrentAccount() me: AuthAccount, @Body() dto: LikeDto) // me = { id, username }
 *
 *   @SoftAuth() @Post('listLatest')  // anonymous allowed; me is undefined when no header
 *   @Public()   @Post('getDetail')   // no auth; any token is ignored
 *
 * Imports: `Public`, `SoftAuth` from './route-metadata'; `RateLimit` from './rate-limit.decorator';
 * `CurrentAccount` from './current-account.decorator'; `AuthAccount` from '@app/account'.
 * Order (SPEC §1): on an auth or limit failure the body is validated first (400), then 401, then 429.
 */
import { CanActivate, ExecutionContext, Injectable, Type } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { AccountMessages, AuthAccount, AuthService, usernameKey } from '@app/account';
import { rateLimited, RateLimitName, unauthenticated } from '@app/core';
import type { RequestWithAccount } from './current-account.decorator';
import { RATE_LIMIT } from './rate-limit.decorator';
import { RateLimiter, RateLimitSubject } from './rate-limit.service';
import { AUTH_MODE, AuthMode } from './route-metadata';
import { AppValidationPipe } from './validation.pipe';

type Req = FastifyRequest & RequestWithAccount;

const BEARER = /^bearer +([^\s]+) *$/i;

@Injectable()
export class AuthGuard implements CanActivate {
  private readonly pipe = new AppValidationPipe();

  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    private readonly limiter: RateLimiter,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const req = ctx.switchToHttp().getRequest<Req>();
    const mode =
      this.reflector.getAllAndOverride<AuthMode | undefined>(AUTH_MODE, [ctx.getHandler(), ctx.getClass()]) ??
      'jwt';
    if (mode !== 'public') {
      try {
        const account = await this.authenticate(req, mode);
        if (account) req.account = account;
      } catch (err) {
        await this.assertBody(ctx, req);
        throw err;
      }
    }
    const names = this.reflector.get<RateLimitName[] | undefined>(RATE_LIMIT, ctx.getHandler());
    if (names?.length) {
      const retryAfter = await this.limiter.hit(this.subjects(names, req));
      if (retryAfter !== null) {
        await this.assertBody(ctx, req);
        throw rateLimited(retryAfter);
      }
    }
    return true;
  }

  private async authenticate(req: Req, mode: 'jwt' | 'soft'): Promise<AuthAccount | undefined> {
    const header = req.headers.authorization;
    if (header === undefined || header.trim() === '') {
      if (mode === 'soft') return undefined;
      throw unauthenticated(AccountMessages.missingHeader);
    }
    const m = BEARER.exec(header);
    if (!m) throw unauthenticated(AccountMessages.invalidHeader);
    return this.auth.authenticate(m[1]);
  }

  private subjects(names: RateLimitName[], req: Req): RateLimitSubject[] {
    const out: RateLimitSubject[] = [];
    for (const name of names) {
      if (name === 'loginUser') {
        const u = (req.body as { username?: unknown } | undefined)?.username;
        if (typeof u === 'string' && u.trim() !== '') out.push({ name, subject: `u:${usernameKey(u)}` });
      } else if (req.account) {
        out.push({ name, subject: `a:${req.account.id}` });
      } else {
        out.push({ name, subject: `ip:${req.ip}` });
      }
    }
    return out;
  }

  /** Throws the 400 the validation pipe would throw for this route's `@Body()` DTO, if any. */
  private async assertBody(ctx: ExecutionContext, req: Req): Promise<void> {
    const cls = ctx.getClass();
    const handler = ctx.getHandler().name;
    const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, cls, handler) as
      Record<string, { index: number; data?: unknown }> | undefined;
    if (!args) return;
    const body = Object.entries(args).find(([k]) => k.split(':')[0] === String(RouteParamtypes.BODY));
    if (!body || body[1].data !== undefined) return;
    const types = Reflect.getMetadata('design:paramtypes', cls.prototype as object, handler) as
      unknown[] | undefined;
    const metatype = types?.[body[1].index];
    if (typeof metatype !== 'function') return;
    await this.pipe.transform(req.body, {
      type: 'body',
      metatype: metatype as Type<unknown>,
      data: undefined,
    });
  }
}
