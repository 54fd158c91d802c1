/**
 * Public surface of the account domain.
 * - AccountModule: import it to inject AccountService, AuthService, AccountRenameHooks.
 * - AccountRenameHooks: `register((manager, accountId, newUsername) => …)` runs inside the
 *   rename transaction (update denormalised `username` columns); `registerAfterCommit(…)` runs
 *   after commit (cache invalidation).
 * - AuthAccount: what `@CurrentAccount()` gives ({ id, username }).
 */
export * from './account.entity';
export * from './account.errors';
export * from './account.types';
export * from './account.module';
export * from './account.service';
export * from './account-rename-hooks';
export * from './auth.service';
export * from './access-token.service';
export * from './username';
