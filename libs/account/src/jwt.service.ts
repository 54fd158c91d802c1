import { Inject, Injectable } from '@nestjs/common';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { APP_CONFIG, nowMs, unauthenticated } from '@app/core';
import type { AppConfig } from '@app/core';
import { AccountMessages } from './account.errors';

export interface AccessClaims {
  account_id: number;
  username: string;
  iat: number;
  exp: number;
  /** Random id: two tokens issued in the same second must still differ (one active token). */
  jti: string;
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
const B64URL = /^[A-Za-z0-9_-]+$/;

/** HS256 JWTs (SPEC §2) with node:crypto: claims `account_id`, `username`, `iat`, `exp`. */
@Injectable()
export class JwtService {
  private readonly secret: Buffer;
  private readonly ttlSeconds: number;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.secret = Buffer.from(config.jwtSecret, 'utf8');
    this.ttlSeconds = config.jwtTtlSeconds;
  }

  private mac(input: string): Buffer {
    return createHmac('sha256', this.secret).update(input).digest();
  }

  sign(accountId: number, username: string): string {
    const iat = Math.floor(nowMs() / 1000);
    const claims: AccessClaims = {
      account_id: accountId,
      username,
      iat,
      exp: iat + this.ttlSeconds,
      jti: randomBytes(9).toString('base64url'),
    };
    const body = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${body}.${this.mac(body).toString('base64url')}`;
  }

  /** The claims of a well-signed, unexpired token; else a 401 `invalid or expired token`. */
  verify(token: string): AccessClaims {
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) throw invalid();
    const [h, p, s] = parts;
    const expected = this.mac(`${h}.${p}`);
    const given = Buffer.from(s, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    const header = parseJson(h) as { alg?: unknown } | null;
    if (!header || header.alg !== 'HS256') throw invalid();
    const c = parseJson(p) as Partial<AccessClaims> | null;
    if (
      !c ||
      typeof c.account_id !== 'number' ||
      !Number.isSafeInteger(c.account_id) ||
      c.account_id < 1 ||
      typeof c.username !== 'string' ||
      typeof c.exp !== 'number' ||
      typeof c.iat !== 'number'
    ) {
      throw invalid();
    }
    if (c.exp * 1000 <= nowMs()) throw invalid();
    return c as AccessClaims;
  }
}

function invalid(): Error {
  return unauthenticated(AccountMessages.invalidToken);
}

function parseJson(b64: string): unknown {
  try {
    const v: unknown = JSON.parse(Buffer.from(b64, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}
