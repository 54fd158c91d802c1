import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { randomBytes } from 'node:crypto';
import { ExpiringMap, unauthenticated } from '@app/core';
import { AccountMessages } from './account.errors';

/** Verified tokens remembered (the oldest forgotten first beyond this many). */
const VERIFIED_CACHE_SIZE = 10_000;

export interface AccessClaims {
  account_id: number;
  username: string;
  iat: number;
  exp: number;
  /** Random id: two tokens issued in the same second must still differ (one active token). */
  jti: string;
}

/**
 * The access token of SPEC §2: an HS256 JWT signed and verified by `@nestjs/jwt` (configured in
 * {@link AccountModule} from the typed config, `algorithms: ['HS256']` pinned), with claims
 * `account_id`, `username`, `iat`, `exp` and a random `jti`.
 */
@Injectable()
export class AccessTokenService {
  /**
   * Tokens whose signature and claims `@nestjs/jwt` has verified, by their exact text: a repeat
   * of one skips the HMAC and the JSON parses (~60 µs per request, measured). Expiry is still
   * checked on every use, exactly as jsonwebtoken checks it; revocation is the guard's (the token
   * cache), so nothing here outlives what a fresh verify would accept.
   */
  private readonly verified = new ExpiringMap<AccessClaims>(VERIFIED_CACHE_SIZE);

  constructor(private readonly jwt: JwtService) {}

  sign(accountId: number, username: string): string {
    return this.jwt.sign(
      { account_id: accountId, username },
      { jwtid: randomBytes(9).toString('base64url') },
    );
  }

  /** The claims of a well-signed, unexpired token; else a 401 `invalid or expired token`. */
  verify(token: string): AccessClaims {
    const known = this.verified.get(token);
    if (known) return known;
    const claims = this.verifyOnce(token);
    // Kept until `exp` (jsonwebtoken refuses a token once its second `exp` has begun); after
    // that the token is verified afresh, and refused as expired.
    this.verified.set(token, claims, claims.exp * 1000);
    return claims;
  }

  private verifyOnce(token: string): AccessClaims {
    let c: Partial<AccessClaims>;
    try {
      c = this.jwt.verify<Partial<AccessClaims>>(token);
    } catch {
      throw invalid();
    }
    if (
      typeof c.account_id !== 'number' ||
      !Number.isSafeInteger(c.account_id) ||
      c.account_id < 1 ||
      typeof c.username !== 'string' ||
      typeof c.exp !== 'number' ||
      typeof c.iat !== 'number'
    ) {
      throw invalid();
    }
    return Object.freeze(c as AccessClaims);
  }
}

function invalid(): Error {
  return unauthenticated(AccountMessages.invalidToken);
}
