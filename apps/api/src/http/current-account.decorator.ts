/** `@CurrentAccount()` lives with the auth guards in `@app/account`; re-exported for the api. */
export { CurrentAccount } from '@app/account';
export type { RequestWithAccount } from '@app/account';
