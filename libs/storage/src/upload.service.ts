import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { APP_CONFIG, Database, DomainError, ErrorCode, nowMs } from '@app/core';
import type { AppConfig } from '@app/core';
import { SNIFF_BYTES, sniffContentType, SniffedType } from './content-sniffer';
import { FILE_STORAGE } from './file-storage';
import type { FileStorage } from './file-storage';
import { keyOfMediaUrl, mediaUrlOf } from './media-urls';
import { quotaExceeded } from './storage.errors';
import { metered, readHead, resume } from './stream-utils';
import type { UploadKind } from './upload.entity';
import { UploadQuota } from './upload-quota';
import { UploadRepository } from './upload.repository';

const MiB = 1024 * 1024;

/** SPEC §3.1/§3.2: what each upload route accepts. */
export const UPLOAD_RULES: Record<
  UploadKind,
  { family: SniffedType['family']; maxBytes: number; dir: string }
> = {
  video: { family: 'video', maxBytes: 200 * MiB, dir: 'videos' },
  cover: { family: 'image', maxBytes: 10 * MiB, dir: 'covers' },
  avatar: { family: 'image', maxBytes: 10 * MiB, dir: 'avatars' },
};

export interface StoredUpload {
  url: string;
  key: string;
  contentType: string;
  size: number;
}

export const payloadTooLarge = (kind: UploadKind): DomainError =>
  new DomainError(ErrorCode.PayloadTooLarge, `file is larger than ${UPLOAD_RULES[kind].maxBytes / MiB} MiB`);

export const unsupportedMediaType = (kind: UploadKind): DomainError =>
  new DomainError(
    ErrorCode.UnsupportedMediaType,
    UPLOAD_RULES[kind].family === 'video'
      ? 'unsupported file type: send an MP4 or WebM video'
      : 'unsupported file type: send a JPEG, PNG or WebP image',
  );

/**
 * Accepts an upload stream: judges its type by its first bytes, enforces the size limit and
 * the account's quota while the bytes flow (the caller learns at once, nothing is kept),
 * stores it under a random key and records its owner.
 */
@Injectable()
export class UploadService {
  private readonly logger = new Logger(UploadService.name);

  constructor(
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
    private readonly uploads: UploadRepository,
    private readonly quota: UploadQuota,
    private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async store(accountId: number, kind: UploadKind, source: Readable): Promise<StoredUpload> {
    const rule = UPLOAD_RULES[kind];
    const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const room = this.quota.remaining(await this.quota.usage(accountId, nowMs()));
    if (room <= 0) {
      await it.return?.();
      throw quotaExceeded();
    }
    const head = await readHead(it, SNIFF_BYTES);
    const type = sniffContentType(Buffer.concat(head.chunks));
    if (!type || type.family !== rule.family) {
      await it.return?.();
      throw unsupportedMediaType(kind);
    }

    const now = nowMs();
    const key = this.newKey(kind, type.ext, now);
    const limit = Math.min(rule.maxBytes, room);
    const over = limit < rule.maxBytes ? quotaExceeded : () => payloadTooLarge(kind);
    const body = Readable.from(metered(resume(head, it), limit, over, { bytes: 0 }));
    const stored = await this.storage.put(key, body, type.contentType);
    try {
      await this.db.transaction(async (m) => {
        await this.quota.lock(m, accountId);
        this.quota.assertFits(await this.quota.usage(accountId, now, m), stored.size);
        await this.uploads.insert(
          {
            accountId,
            kind,
            storageKey: key,
            contentType: type.contentType,
            size: stored.size,
            createTime: now,
            referenced: 0,
          },
          m,
        );
      });
    } catch (err) {
      await this.storage.delete(key).catch((e: unknown) => this.logger.warn(`orphan ${key}: ${String(e)}`));
      throw err;
    }
    return { url: this.urlOf(key), key, contentType: type.contentType, size: stored.size };
  }

  /** A fresh random key: `<dir>/<yyyy>/<mm>/<32 hex>.<ext>`. */
  newKey(kind: UploadKind, ext: string, now: number): string {
    const d = new Date(now);
    return [
      UPLOAD_RULES[kind].dir,
      String(d.getUTCFullYear()),
      String(d.getUTCMonth() + 1).padStart(2, '0'),
      `${randomBytes(16).toString('hex')}.${ext}`,
    ].join('/');
  }

  /** See {@link mediaUrlOf}. */
  urlOf(key: string): string {
    return mediaUrlOf(this.config, key);
  }

  /** The storage key behind one of our URLs (any form), or null. */
  keyOfUrl(url: string): string | null {
    return keyOfMediaUrl(this.config, url);
  }

  /** For `/account/updateProfile`: is `url` an image this account uploaded? */
  async isOwnImage(accountId: number, url: string): Promise<boolean> {
    const key = this.keyOfUrl(url);
    if (!key) return false;
    return (await this.uploads.findOwned(accountId, key, ['avatar', 'cover'])) !== null;
  }
}
