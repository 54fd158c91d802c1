import { DomainError, fieldError, notFound } from '@app/core';

export const MessageErrors = {
  accountNotFound: (): DomainError => notFound('account not found'),
  toSelf: (field: 'to_id' | 'peer_id'): DomainError => fieldError(field, 'cannot be yourself'),
};
