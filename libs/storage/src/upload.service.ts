import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { APP_CONFIG, DomainError, ErrorCode } from '@app/core';
import type { AppConfig } from '@app/core';
import { SNIFF_BYTES, sniffContentType, SniffedType } from './content-sniffer';
import { FILE_STORAGE } from './file-storage';
import type { FileStorage } from './file-storage';
import type { UploadKind } from './upload.entity';
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

export const STATIC_PREFIX = '/static/';

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

/** Reads chunks until `n` bytes are known (or the stream ends), keeping the iterator for the rest. */
async function readHead(it: AsyncIterator<Buffer>, n: number): Promise<{ chunks: Buffer[]; ended: boolean }> {
  const chunks: Buffer[] = [];
  let len = 0;
  while (len < n) {
    const r = await it.next();
    if (r.done) return { chunks, ended: true };
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    chunks.push(chunk);
    len += chunk.length;
  }
  return { chunks, ended: false };
}

/**
 * Accepts an upload stream: judges its type by its first bytes, enforces the size limit while
 * the bytes flow (the caller learns at once, nothing is kept), stores it under a random key and
 * records its owner.
 */
@Injectable()
export class UploadService {
  private readonly logger = new Logger(UploadService.name);

  constructor(
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
    private readonly uploads: UploadRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async store(accountId: number, kind: UploadKind, source: Readable): Promise<StoredUpload> {
    const rule = UPLOAD_RULES[kind];
    const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const head = await readHead(it, SNIFF_BYTES);
    const type = sniffContentType(Buffer.concat(head.chunks));
    if (!type || type.family !== rule.family) {
      await it.return?.();
      throw unsupportedMediaType(kind);
    }

    const now = new Date();
    const key = [
      rule.dir,
      String(now.getUTCFullYear()),
      String(now.getUTCMonth() + 1).padStart(2, '0'),
      `${randomBytes(16).toString('hex')}.${type.ext}`,
    ].join('/');

    let seen = 0;
    async function* guarded(): AsyncGenerator<Buffer> {
      try {
        for (const chunk of head.chunks) {
          seen += chunk.length;
          if (seen > rule.maxBytes) throw payloadTooLarge(kind);
          yield chunk;
        }
        if (head.ended) return;
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          seen += r.value.length;
          if (seen > rule.maxBytes) throw payloadTooLarge(kind);
          yield r.value;
        }
      } finally {
        await it.return?.();
      }
    }

    const stored = await this.storage.put(key, Readable.from(guarded()), type.contentType);
    try {
      await this.uploads.insert({
        accountId,
        kind,
        storageKey: key,
        contentType: type.contentType,
        size: stored.size,
        createTime: now.getTime(),
      });
    } catch (err) {
      await this.storage.delete(key).catch((e: unknown) => this.logger.warn(`orphan ${key}: ${String(e)}`));
      throw err;
    }
    return { url: this.urlOf(key), key, contentType: type.contentType, size: stored.size };
  }

  /** Root-relative `/static/<key>`, or absolute under PUBLIC_BASE_URL; never from the Host header. */
  urlOf(key: string): string {
    return `${this.config.publicBaseUrl ?? ''}${STATIC_PREFIX}${key}`;
  }

  /** The storage key behind one of our URLs (either form), or null. */
  keyOfUrl(url: string): string | null {
    let path = url;
    const base = this.config.publicBaseUrl;
    if (base && url.startsWith(base + STATIC_PREFIX)) path = url.slice(base.length);
    if (!path.startsWith(STATIC_PREFIX)) return null;
    const key = path.slice(STATIC_PREFIX.length);
    return /^[a-z]+\/\d{4}\/\d{2}\/[0-9a-f]{32}\.[a-z0-9]+$/.test(key) ? key : null;
  }

  /** For `/account/updateProfile`: is `url` an image this account uploaded? */
  async isOwnImage(accountId: number, url: string): Promise<boolean> {
    const key = this.keyOfUrl(url);
    if (!key) return false;
    return (await this.uploads.findOwned(accountId, key, ['avatar', 'cover'])) !== null;
  }
}
