import { SetMetadata } from '@nestjs/common';

/**
 * Auth is default-deny: every route needs a valid access token ({@link JwtAuthGuard}) unless
 * marked with one of these.
 */
export const AUTH_MODE = 'auth:mode';
export type AuthMode = 'jwt' | 'soft' | 'public';

/** No authentication; any token is ignored. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(AUTH_MODE, 'public');

/** SoftJWTAuth (SPEC §2, the feed routes): anonymous allowed; a token that is present must be valid. */
export const SoftAuth = (): MethodDecorator & ClassDecorator => SetMetadata(AUTH_MODE, 'soft');
