import { SetMetadata } from '@nestjs/common';

/**
 * Auth is default-deny: every route needs a valid token unless marked. The guard that reads
 * these markers lives with the account module.
 */
export const AUTH_MODE = 'auth:mode';
export type AuthMode = 'jwt' | 'soft' | 'public';

/** No authentication; any token is ignored. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(AUTH_MODE, 'public');
/** Anonymous allowed; a token that is present must be valid (feed routes). */
export const SoftAuth = (): MethodDecorator & ClassDecorator => SetMetadata(AUTH_MODE, 'soft');
