import { DomainError, fieldError, notFound } from '@app/core';

export const NotificationErrors = {
  notFound: (): DomainError => notFound('notification not found'),
  badLastEventId: (): DomainError => fieldError('last_event_id', 'must be a non-negative integer id'),
  badField: (field: string, reason: string): DomainError => fieldError(field, reason),
};
