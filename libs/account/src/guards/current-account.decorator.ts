import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { AuthAccount } from '../account.types';

/** What the auth guards set on the request. */
export interface RequestWithAccount {
  account?: AuthAccount;
}

/**
 * The authenticated caller `{ id, username }`, set by {@link JwtAuthGuard} /
 * {@link SoftJwtAuthGuard}. Always set on JWT routes; `undefined` on `@SoftAuth()` routes for
 * anonymous callers and on `@Public()` routes.
 */
export const CurrentAccount = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): AuthAccount | undefined =>
    ctx.switchToHttp().getRequest<RequestWithAccount>().account,
);
