/** Messages of SPEC §2 / §3.1, exactly as clients see them. */
export const AccountMessages = {
  missingHeader: 'missing authorization header',
  invalidHeader: 'invalid authorization header',
  invalidToken: 'invalid or expired token',
  revoked: 'token has been revoked',
  badCredentials: 'invalid username or password',
  badOldPassword: 'invalid username or old password',
  badRefreshToken: 'invalid refresh token',
  usernameTaken: 'username already taken',
  accountNotFound: 'account not found',
  avatarNotOwned: 'avatar_url must be "" or the URL of one of your own image uploads',
  emptyProfileUpdate: 'nothing to update: send avatar_url and/or bio',
} as const;
