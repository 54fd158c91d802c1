import { SetMetadata } from '@nestjs/common';
import type { RateLimitName } from '@app/core';

export const RATE_LIMIT = 'rate-limit:names';
export const RATE_LIMIT_SELF = 'rate-limit:self-field';

/** One named limit on a route; `failuresOnly`: a request that succeeds gives its hit back. */
export interface RateLimitUse {
  name: RateLimitName;
  failuresOnly: boolean;
}

/**
 * Counts every request that reaches the route against each named limit (SPEC §3), enforced by
 * the global RateLimitGuard after the body check and authentication. Routes that share a name
 * share a counter (`like` on like + unlike). Keyed by the caller's account when authenticated,
 * else by client IP; `loginUser` is keyed by (validated username, client IP), hashed. Limits
 * come from `RATE_LIMITS`.
 */
export const RateLimit = (...names: RateLimitName[]): MethodDecorator =>
  SetMetadata(
    RATE_LIMIT,
    names.map((name): RateLimitUse => ({ name, failuresOnly: false })),
  );

/**
 * Like {@link RateLimit}, but only failed attempts count (SPEC §3.1 login): a request is counted
 * while it runs and given back when it answers 2xx/3xx (or 5xx, a fault of ours), so failures
 * are limited and a correct login is never refused for someone else's failures.
 */
export const RateLimitFailures = (...names: RateLimitName[]): MethodDecorator =>
  SetMetadata(
    RATE_LIMIT,
    names.map((name): RateLimitUse => ({ name, failuresOnly: true })),
  );

/**
 * The route answers a 400 when the body's `field` names the caller (a self-follow, a message to
 * oneself). That 400 needs the caller, so the handler finds it, after the rate limit; marked so,
 * the RateLimitGuard lets such a request through uncounted, and it is a 400 at the limit too
 * (SPEC §1: 400 before 429; §3: a 400 never counts).
 */
export const RefusesSelf = (field: string): MethodDecorator => SetMetadata(RATE_LIMIT_SELF, field);
