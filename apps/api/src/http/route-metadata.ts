/**
 * The auth markers live with the guards in `@app/account` (JwtAuthGuard, SoftJwtAuthGuard);
 * re-exported for the api's controllers. Auth is default-deny: a route without a marker needs
 * a valid token.
 */
export { AUTH_MODE, Public, SoftAuth } from '@app/account';
export type { AuthMode } from '@app/account';
