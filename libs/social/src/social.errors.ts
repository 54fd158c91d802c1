import { conflict, DomainError, fieldError, notFound } from '@app/core';

export const SocialErrors = {
  accountNotFound: (): DomainError => notFound('account not found'),
  selfFollow: (): DomainError => fieldError('vlogger_id', 'cannot be yourself'),
  alreadyFollowing: (): DomainError => conflict('already following'),
  notFollowing: (): DomainError => conflict('not following'),
};
