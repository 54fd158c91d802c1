import { SetMetadata } from '@nestjs/common';
import type { RateLimitName } from '@app/core';

export const RATE_LIMIT = 'rate-limit:names';

/**
 * Counts every request that reaches the route against each named limit (SPEC §3), enforced by
 * the global AuthGuard after authentication. Routes that share a name share a counter
 * (`like` on like + unlike). Keyed by the caller's account when authenticated, else by client
 * IP; `loginUser` is keyed by the body's `username`. Limits come from `RATE_LIMITS`.
 */
export const RateLimit = (...names: RateLimitName[]): MethodDecorator => SetMetadata(RATE_LIMIT, names);
