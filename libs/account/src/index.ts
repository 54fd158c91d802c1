/**
 * Public surface of the account domain.
 * - AccountModule: import it to inject AccountService, AuthService, AccountRenameHooks.
 * - AccountRenameHooks: `register((manager, accountId, newUsername) => …)` runs inside the
 *   rename transaction (update denormalised `username` columns); `registerAfterCommit(…)` runs
 *   after commit (cache invalidation).
 * - AuthAccount: what `@CurrentAccount()` gives ({ id, username }).
 * - JwtAuthGuard / SoftJwtAuthGuard with `@Public()`, `@SoftAuth()` and `@CurrentAccount()`:
 *   the api installs both guards globally, so a route without a marker needs a valid token.
 */
export * from './account.entity';
export * from './account.errors';
export * from './account.types';
export * from './account.module';
export * from './account.repository';
export * from './account.service';
export * from './account-rename-hooks';
export * from './account-token-changes';
export * from './auth.service';
export * from './access-token.service';
export * from './username';
export * from './token-digest';
export * from './guards/auth.decorators';
export * from './guards/current-account.decorator';
export * from './guards/jwt-auth.guard';
