import { createSecretKey } from 'node:crypto';
import { JwtService } from '@nestjs/jwt';
import { DomainError } from '@app/core';
import { AccessTokenService } from './access-token.service';
import { tokenDigest } from './token-digest';

const secret = createSecretKey(Buffer.from('unit-test-secret-unit-test-secret-0123', 'utf8'));
const service = (ttlSeconds = 60): AccessTokenService =>
  new AccessTokenService(
    new JwtService({
      secret,
      signOptions: { algorithm: 'HS256', expiresIn: ttlSeconds },
      verifyOptions: { algorithms: ['HS256'] },
    }),
  );

describe('AccessTokenService', () => {
  afterEach(() => jest.useRealTimers());

  it('answers a repeated token from its verified claims, the same as the first verify', () => {
    const tokens = service();
    const token = tokens.sign(7, 'alice');
    const first = tokens.verify(token);
    expect(first).toMatchObject({ account_id: 7, username: 'alice' });
    expect(tokens.verify(token)).toEqual(first);
  });

  it('still refuses a remembered token once it has expired', () => {
    jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    const tokens = service(10);
    const token = tokens.sign(7, 'alice');
    expect(tokens.verify(token).account_id).toBe(7);
    jest.setSystemTime(new Date('2026-01-01T00:00:09Z'));
    expect(tokens.verify(token).account_id).toBe(7);
    jest.setSystemTime(new Date('2026-01-01T00:00:10Z'));
    expect(() => tokens.verify(token)).toThrow(DomainError);
    expect(() => tokens.verify(token)).toThrow(DomainError);
  });

  it('does not remember a token that failed: a tampered one is refused every time', () => {
    const tokens = service();
    const token = tokens.sign(7, 'alice');
    const tampered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(() => tokens.verify(tampered)).toThrow(DomainError);
    expect(() => tokens.verify(tampered)).toThrow(DomainError);
    expect(tokens.verify(token).account_id).toBe(7);
  });

  it('a token signed with another secret is refused even after a valid one was seen', () => {
    const other = new AccessTokenService(
      new JwtService({ secret: 'another-secret-another-secret-012345', signOptions: { expiresIn: 60 } }),
    );
    const tokens = service();
    tokens.verify(tokens.sign(7, 'alice'));
    expect(() => tokens.verify(other.sign(7, 'alice'))).toThrow(DomainError);
  });
});

describe('tokenDigest', () => {
  it('is the SHA-256 of the token, base64url, the same on every call', () => {
    expect(tokenDigest('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    expect(tokenDigest('abc')).toBe(tokenDigest('abc'));
    expect(tokenDigest('abd')).not.toBe(tokenDigest('abc'));
  });
});
