import { CanActivate, ExecutionContext, Injectable, Type } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import type { FastifyRequest } from 'fastify';
import { isJsonBody, unsupportedType } from './json-body';
import { AppValidationPipe } from './validation.pipe';

/** The `@Body()` DTO class of a handler, if it has one. */
function bodyType(cls: Type<unknown>, handler: string): Type<unknown> | null {
  const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, cls, handler) as
    Record<string, { index: number; data?: unknown }> | undefined;
  if (!args) return null;
  const body = Object.entries(args).find(([k]) => k.split(':')[0] === String(RouteParamtypes.BODY));
  if (!body || body[1].data !== undefined) return null;
  const types = Reflect.getMetadata('design:paramtypes', cls.prototype as object, handler) as
    unknown[] | undefined;
  const metatype = types?.[body[1].index];
  return typeof metatype === 'function' && metatype !== Object ? (metatype as Type<unknown>) : null;
}

/**
 * The body-shape check (SPEC §1: 400 before 401 before 429), the first global guard: a route
 * with a `@Body()` DTO gets its body validated here, once, by the global validation pipe, and
 * the validated DTO replaces `request.body` (the pipe passes it through at `@Body()`). Rate-limit
 * keys are then built only from validated values. A body that is not JSON is a 415.
 */
@Injectable()
export class BodyShapeGuard implements CanActivate {
  private readonly pipe = new AppValidationPipe();
  private readonly types = new WeakMap<object, Type<unknown> | null>();

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const handler = ctx.getHandler();
    let metatype = this.types.get(handler);
    if (metatype === undefined) {
      metatype = bodyType(ctx.getClass(), handler.name);
      this.types.set(handler, metatype);
    }
    if (!metatype) return true;
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const h = req.headers;
    const sentBody = h['transfer-encoding'] !== undefined || Number(h['content-length'] ?? 0) > 0;
    if (sentBody && !isJsonBody(h)) throw unsupportedType();
    req.body = await this.pipe.transform(req.body, { type: 'body', metatype, data: undefined });
    return true;
  }
}
