import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EntityManager } from 'typeorm';
import {
  APP_CONFIG,
  conflict,
  Database,
  fieldError,
  isDuplicateKey,
  notFound,
  nowMs,
  unauthenticated,
  validationError,
} from '@app/core';
import type { AppConfig } from '@app/core';
import { keyOfMediaUrl, UploadEntity } from '@app/storage';
import { AccountEntity } from './account.entity';
import { AccountRepository } from './account.repository';
import { AccountMessages } from './account.errors';
import { AccountRenameHooks } from './account-rename-hooks';
import { AccountTokenChanges } from './account-token-changes';
import type { AccountView, AuthAccount, LoginResult, RefreshResult } from './account.types';
import { AccessTokenService } from './access-token.service';
import { PasswordHasher } from './password-hasher.service';
import { TokenCache } from './token-cache.service';
import { tokenDigest } from './token-digest';
import { legacyUsernameKey, normalizeUsername, usernameKey, usernameSkeleton } from './username';

const REFRESH_TTL_MS = 7 * 24 * 3600 * 1000;

export function toAccountView(a: AccountEntity): AccountView {
  return { id: a.id, username: a.username, avatar_url: a.avatarUrl ?? '', bio: a.bio ?? '' };
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * Accounts (SPEC §3.1). Inputs arrive validated by the DTOs (shape, lengths); this service
 * applies the rules that need state. Every token change goes through {@link lockedUpdate} so
 * the token cache is written in database order (see TokenCache).
 */
@Injectable()
export class AccountService {
  private readonly logger = new Logger(AccountService.name);

  constructor(
    private readonly db: Database,
    private readonly accounts: AccountRepository,
    private readonly jwt: AccessTokenService,
    private readonly tokens: TokenCache,
    private readonly hasher: PasswordHasher,
    private readonly renameHooks: AccountRenameHooks,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tokenChanges: AccountTokenChanges,
  ) {}

  async findById(id: number): Promise<AccountEntity | null> {
    return this.accounts.findById(id);
  }

  async findByUsername(username: string): Promise<AccountEntity | null> {
    const key = usernameKey(username);
    const row = await this.findByKey(key);
    if (row) return row;
    // Accounts created before names were NFKC-normalised keep their NFC key.
    const legacy = legacyUsernameKey(username);
    return legacy === key ? null : this.findByKey(legacy);
  }

  private findByKey(key: string): Promise<AccountEntity | null> {
    return this.accounts.findByUsernameKey(key);
  }

  /** The account whose name looks like `username` (same UTS #39 skeleton), if any. */
  private findLookAlike(username: string): Promise<AccountEntity | null> {
    return this.accounts.findBySkeleton(usernameSkeleton(username));
  }

  /** `findByID` / `findByUsername`: may be read from a replica (`Database.reader`). */
  async getById(id: number): Promise<AccountView> {
    const a = await this.db.reader.run(() => this.findById(id));
    if (!a) throw notFound(AccountMessages.accountNotFound);
    return toAccountView(a);
  }

  async getByUsername(username: string): Promise<AccountView> {
    const a = await this.db.reader.run(() => this.findByUsername(username));
    if (!a) throw notFound(AccountMessages.accountNotFound);
    return toAccountView(a);
  }

  async register(rawUsername: string, password: string): Promise<{ id: number; username: string }> {
    const username = normalizeUsername(rawUsername);
    if ((await this.findByUsername(username)) || (await this.findLookAlike(username))) {
      throw conflict(AccountMessages.usernameTaken);
    }
    const passwordHash = await this.hasher.hash(password);
    try {
      const saved = await this.db.transaction((m) =>
        this.accounts.insert(m, {
          username,
          usernameKey: usernameKey(username),
          usernameSkeleton: usernameSkeleton(username),
          passwordHash,
          token: null,
          refreshTokenHash: null,
          refreshExpiresAt: null,
          avatarUrl: '',
          bio: '',
          followerCount: 0,
          vloggerCount: 0,
          createTime: nowMs(),
        }),
      );
      return { id: saved.id, username: saved.username };
    } catch (err) {
      if (isDuplicateKey(err)) throw conflict(AccountMessages.usernameTaken);
      throw err;
    }
  }

  /**
   * The account, when `password` is its password; else null, having spent a bcrypt verify
   * either way so an unknown user costs what a wrong password does.
   */
  private async checkCredentials(username: string, password: string): Promise<AccountEntity | null> {
    const a = await this.findByUsername(username);
    if (!a) {
      await this.hasher.burn(password);
      return null;
    }
    return (await this.hasher.verify(password, a.passwordHash)) ? a : null;
  }

  /** 401 with one message for an unknown user and a wrong password. */
  async login(username: string, password: string): Promise<LoginResult> {
    const found = await this.checkCredentials(username, password);
    if (!found) throw unauthenticated(AccountMessages.badCredentials);
    const refreshSecret = randomBytes(32).toString('base64url');
    const { account, token } = await this.lockedUpdate(found.id, (a) => {
      const t = this.jwt.sign(a.id, a.username);
      a.token = tokenDigest(t);
      a.refreshTokenHash = sha256(refreshSecret);
      a.refreshExpiresAt = nowMs() + REFRESH_TTL_MS;
      return t;
    });
    return {
      token,
      refresh_token: `${account.id}.${refreshSecret}`,
      account_id: account.id,
      username: account.username,
    };
  }

  /** Refresh tokens are `<account id>.<secret>`; only sha256(secret) is stored. Not rotated. */
  async refresh(refreshToken: string): Promise<RefreshResult> {
    const m = /^([1-9]\d{0,15})\.([A-Za-z0-9_-]{20,100})$/.exec(refreshToken);
    const id = m ? Number(m[1]) : NaN;
    if (!m || !Number.isSafeInteger(id)) throw unauthenticated(AccountMessages.badRefreshToken);
    const given = Buffer.from(sha256(m[2]), 'hex');
    const valid = (a: AccountEntity): boolean =>
      a.refreshTokenHash !== null &&
      a.refreshExpiresAt !== null &&
      a.refreshExpiresAt > nowMs() &&
      timingSafeEqual(Buffer.from(a.refreshTokenHash, 'hex'), given);
    const pre = await this.findById(id);
    if (!pre || !valid(pre)) throw unauthenticated(AccountMessages.badRefreshToken);
    const { account, token } = await this.lockedUpdate(id, (a) => {
      if (!valid(a)) throw unauthenticated(AccountMessages.badRefreshToken);
      const t = this.jwt.sign(a.id, a.username);
      a.token = tokenDigest(t);
      return t;
    });
    return { token, account_id: account.id, username: account.username };
  }

  /**
   * Verifies the old password, stores the new one and revokes every token (forced logout). A
   * wrong username or old password is a 400 naming `old_password` (SPEC §8.5: a 401 would make
   * web clients log the user out).
   */
  async changePassword(username: string, oldPassword: string, newPassword: string): Promise<void> {
    const found = await this.checkCredentials(username, oldPassword);
    if (!found) {
      throw validationError(AccountMessages.badOldPassword, [
        { field: 'old_password', message: AccountMessages.badOldPassword },
      ]);
    }
    const passwordHash = await this.hasher.hash(newPassword);
    await this.lockedUpdate(found.id, (a) => {
      a.passwordHash = passwordHash;
      revokeAll(a);
    });
  }

  async logout(caller: AuthAccount): Promise<void> {
    await this.lockedUpdate(caller.id, (a) => revokeAll(a));
  }

  /** New name (registration's rules), new access token; the old token and refresh token are revoked. */
  async rename(caller: AuthAccount, rawNewUsername: string): Promise<{ token: string }> {
    const newUsername = normalizeUsername(rawNewUsername);
    const key = usernameKey(newUsername);
    const skeleton = usernameSkeleton(newUsername);
    for (const holder of [await this.findByUsername(newUsername), await this.findLookAlike(newUsername)]) {
      if (holder && holder.id !== caller.id) throw conflict(AccountMessages.usernameTaken);
    }
    let result: { account: AccountEntity; token: string };
    try {
      result = await this.lockedUpdate(caller.id, async (a, m) => {
        a.username = newUsername;
        a.usernameKey = key;
        a.usernameSkeleton = skeleton;
        revokeAll(a);
        const t = this.jwt.sign(a.id, newUsername);
        a.token = tokenDigest(t);
        await this.renameHooks.runInTransaction(m, a.id, newUsername);
        return t;
      });
    } catch (err) {
      if (isDuplicateKey(err)) throw conflict(AccountMessages.usernameTaken);
      throw err;
    }
    await this.renameHooks.runAfterCommit([caller.id, newUsername], (err) =>
      this.logger.error(`after-rename hook failed for account ${caller.id}: ${String(err)}`),
    );
    return { token: result.token };
  }

  /** `avatar_url`: `""` clears it, else the URL of one of the caller's own image uploads. */
  async updateProfile(
    caller: AuthAccount,
    patch: { avatarUrl?: string; bio?: string },
  ): Promise<AccountView> {
    if (patch.avatarUrl === undefined && patch.bio === undefined) {
      throw validationError(AccountMessages.emptyProfileUpdate, [
        { field: 'avatar_url', message: AccountMessages.emptyProfileUpdate },
      ]);
    }
    if (patch.avatarUrl !== undefined && patch.avatarUrl !== '') {
      await this.assertOwnImage(caller.id, patch.avatarUrl);
    }
    const { account } = await this.lockedUpdate(caller.id, (a) => {
      if (patch.avatarUrl !== undefined) a.avatarUrl = patch.avatarUrl;
      if (patch.bio !== undefined) a.bio = patch.bio;
    });
    return toAccountView(account);
  }

  /** `url` in any form the api hands out (`/static/<key>`, under PUBLIC_BASE_URL or MEDIA_BASE_URL). */
  private async assertOwnImage(accountId: number, url: string): Promise<void> {
    const storageKey = keyOfMediaUrl(this.config, url);
    const upload =
      storageKey === null
        ? null
        : await this.db.manager.getRepository(UploadEntity).findOne({ where: { accountId, storageKey } });
    if (
      !upload ||
      (upload.kind !== 'avatar' && upload.kind !== 'cover') ||
      upload.storageKey !== storageKey
    ) {
      throw fieldError('avatar_url', 'must be "" or the URL of one of your own image uploads');
    }
  }

  /**
   * Loads the account row under a write lock, lets `change` edit it, saves it and, when the
   * token changed, writes the token cache before commit (cache order = database order). A token
   * that was replaced or revoked is announced after commit ({@link AccountTokenChanges}).
   */
  private async lockedUpdate<T>(
    accountId: number,
    change: (a: AccountEntity, m: EntityManager) => T | Promise<T>,
  ): Promise<{ account: AccountEntity; token: T }> {
    let revoked = false;
    const result = await this.db.transaction(async (m) => {
      const a = await this.accounts.lockById(m, accountId);
      if (!a) throw notFound(AccountMessages.accountNotFound);
      const before = a.token;
      const out = await change(a, m);
      await this.accounts.save(m, a);
      if (a.token !== before) await this.tokens.store(a.id, a.token);
      revoked = before !== null && a.token !== before;
      return { account: a, token: out };
    });
    if (revoked) this.tokenChanges.revoked(accountId);
    return result;
  }
}

function revokeAll(a: AccountEntity): void {
  a.token = null;
  a.refreshTokenHash = null;
  a.refreshExpiresAt = null;
}
