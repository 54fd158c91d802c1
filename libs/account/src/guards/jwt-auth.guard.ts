import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthService } from '../auth.service';
import { AUTH_MODE, AuthMode } from './auth.decorators';
import type { RequestWithAccount } from './current-account.decorator';

type AuthRequest = RequestWithAccount & { headers: Record<string, string | string[] | undefined> };

/** Each route's mode (handler and class), read from its metadata once. */
const modes = new WeakMap<object, WeakMap<object, AuthMode>>();

function authMode(reflector: Reflector, ctx: ExecutionContext): AuthMode {
  const handler = ctx.getHandler();
  const cls = ctx.getClass();
  let byClass = modes.get(handler);
  let mode = byClass?.get(cls);
  if (mode === undefined) {
    mode = reflector.getAllAndOverride<AuthMode | undefined>(AUTH_MODE, [handler, cls]) ?? 'jwt';
    if (!byClass) modes.set(handler, (byClass = new WeakMap()));
    byClass.set(cls, mode);
  }
  return mode;
}

function authorization(req: AuthRequest): string | undefined {
  const h = req.headers.authorization;
  return Array.isArray(h) ? h[0] : h;
}

/**
 * JWTAuth (SPEC §2), installed as a global guard by the api so auth is default-deny: every HTTP
 * route not marked `@Public()` or `@SoftAuth()` needs a valid, current access token
 * (`Authorization: Bearer <token>`, scheme in any case); the caller is then `@CurrentAccount()`.
 * Failures are 401 DomainErrors with SPEC §2's messages. Routes marked `@SoftAuth()` are left to
 * {@link SoftJwtAuthGuard}; non-HTTP contexts (the worker's event handlers) are not guarded.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http' || authMode(this.reflector, ctx) !== 'jwt') return true;
    const req = ctx.switchToHttp().getRequest<AuthRequest>();
    req.account = await this.auth.authenticateHeader(authorization(req));
    return true;
  }
}

/**
 * SoftJWTAuth (SPEC §2) for routes marked `@SoftAuth()`: without an `Authorization` header the
 * caller is anonymous (`@CurrentAccount()` is undefined); a header that is present must carry a
 * valid, current token, with JWTAuth's 401s.
 */
@Injectable()
export class SoftJwtAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http' || authMode(this.reflector, ctx) !== 'soft') return true;
    const req = ctx.switchToHttp().getRequest<AuthRequest>();
    const header = authorization(req);
    if (header === undefined || header.trim() === '') return true;
    req.account = await this.auth.authenticateHeader(header);
    return true;
  }
}
