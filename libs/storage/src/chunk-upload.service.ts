import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { EntityManager } from 'typeorm';
import { Database, DomainError, fieldError, lockClause, nowMs, sleep } from '@app/core';
import { SNIFF_BYTES, sniffContentType } from './content-sniffer';
import { FileDeletions } from './file-deletions';
import { FILE_STORAGE } from './file-storage';
import type { FileStorage } from './file-storage';
import {
  IncompleteUploadError,
  notYourSession,
  partTooLarge,
  sessionNotFound,
  stillAssembling,
  tooManySessions,
} from './storage.errors';
import { discard, metered, readHead, resume } from './stream-utils';
import { UploadPartEntity, UploadSessionEntity, UploadSessionStatus } from './upload-session.entity';
import { UploadQuota } from './upload-quota';
import { UploadRepository } from './upload.repository';
import { UPLOAD_RULES, UploadService, unsupportedMediaType } from './upload.service';

const KiB = 1024;
const MiB = 1024 * KiB;

/** SPEC §8.1. */
export const CHUNK_RULES = {
  minChunkSize: 64 * KiB,
  maxChunkSize: 16 * MiB,
  maxFileSize: UPLOAD_RULES.video.maxBytes,
  maxOpenSessions: 5,
  /** A session lives this long after its last chunk (or its completion). */
  ttlMs: 24 * 3600_000,
  /** How many missing indices a premature `complete` names. */
  missingShown: 5,
} as const;

/** A `complete` holds its claim this long, renewed while it works; a crashed one is taken over after it. */
const ASSEMBLY_LEASE_MS = 30_000;
/** How long a second, concurrent `complete` waits for the first before a 409. */
const ASSEMBLY_WAIT_MS = 60_000;

export interface ChunkInitInput {
  filename: string;
  fileSize: number;
  chunkSize: number;
  totalChunks: number;
  fileHash: string;
}

export interface ChunkPartInput {
  uploadId: string;
  chunkIndex: number;
  /** MD5 of the part, lowercase hex. */
  chunkHash: string;
}

export interface ChunkSessionState {
  uploadId: string;
  uploadedChunks: number[];
  totalChunks: number;
}

export interface CompletedUpload {
  url: string;
  key: string;
}

export const partsPrefix = (uploadId: string): string => `parts/${uploadId}/`;

/**
 * Resumable chunked uploads (SPEC §8.1). Sessions and parts are rows in the database, so they
 * work without Redis and across api instances: a part is one row, unique per (session, index),
 * written only after its bytes are stored and verified, so parts uploaded concurrently are all
 * kept and a part cut off mid-way leaves nothing. `complete` streams the parts, in order, into
 * one stored file while hashing it, then records it as an ordinary upload.
 */
@Injectable()
export class ChunkUploadService {
  private readonly logger = new Logger(ChunkUploadService.name);

  constructor(
    private readonly db: Database,
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
    private readonly quota: UploadQuota,
    private readonly uploads: UploadService,
    private readonly uploadRows: UploadRepository,
    private readonly deletions: FileDeletions,
  ) {}

  /** A new session, or the caller's unexpired one for the same file and chunk size (resume). */
  async init(accountId: number, input: ChunkInitInput): Promise<ChunkSessionState> {
    const now = nowMs();
    return this.db.transaction(async (m) => {
      await this.quota.lock(m, accountId);
      const same = await m
        .getRepository(UploadSessionEntity)
        .createQueryBuilder('s')
        .where('s.account_id = :accountId AND s.file_hash = :fileHash', {
          accountId,
          fileHash: input.fileHash,
        })
        .andWhere('s.file_size = :fileSize AND s.chunk_size = :chunkSize', {
          fileSize: input.fileSize,
          chunkSize: input.chunkSize,
        })
        .andWhere('s.status = :open AND s.expires_at > :now', { open: UploadSessionStatus.Open, now })
        .orderBy('s.id', 'DESC')
        .getOne();
      if (same) {
        return {
          uploadId: same.uploadId,
          uploadedChunks: await this.storedIndices(m, same.id),
          totalChunks: same.totalChunks,
        };
      }
      const usage = await this.quota.usage(accountId, now, m);
      if (usage.openSessions >= CHUNK_RULES.maxOpenSessions) throw tooManySessions();
      this.quota.assertFits(usage, input.fileSize);
      const uploadId = randomBytes(16).toString('hex');
      await m.getRepository(UploadSessionEntity).insert({
        uploadId,
        accountId,
        filename: input.filename,
        fileSize: input.fileSize,
        chunkSize: input.chunkSize,
        totalChunks: input.totalChunks,
        fileHash: input.fileHash,
        status: UploadSessionStatus.Open,
        resultKey: '',
        assemblingUntil: 0,
        createTime: now,
        expiresAt: now + CHUNK_RULES.ttlMs,
      });
      return { uploadId, uploadedChunks: [], totalChunks: input.totalChunks };
    });
  }

  async status(accountId: number, uploadId: string): Promise<ChunkSessionState> {
    const s = await this.find(accountId, uploadId);
    const uploadedChunks =
      s.status === UploadSessionStatus.Completed
        ? Array.from({ length: s.totalChunks }, (_, i) => i)
        : await this.storedIndices(this.db.manager, s.id);
    return { uploadId: s.uploadId, uploadedChunks, totalChunks: s.totalChunks };
  }

  /**
   * Streams one part to storage, then records it. `body` is read to its end in every successful
   * case (an index already stored is read and dropped: 200 without rewriting).
   */
  async storePart(accountId: number, input: ChunkPartInput, body: Readable): Promise<void> {
    const s = await this.find(accountId, input.uploadId);
    const index = input.chunkIndex;
    if (index >= s.totalChunks) {
      throw fieldError('chunk_index', `must be within [0, ${s.totalChunks}) for this upload`);
    }
    if (s.status === UploadSessionStatus.Completed || (await this.hasPart(s.id, index))) {
      await discard(body);
      return;
    }
    const last = index === s.totalChunks - 1;
    const expected = last ? s.fileSize - (s.totalChunks - 1) * s.chunkSize : s.chunkSize;
    const key = `${partsPrefix(s.uploadId)}${index}x${randomBytes(8).toString('hex')}.part`;
    const meter = { bytes: 0, hash: createHash('md5') };
    const limited = metered(body, s.chunkSize, () => partTooLarge(s.chunkSize), meter);
    try {
      await this.storage.put(key, Readable.from(limited), 'application/octet-stream');
    } catch (err) {
      // The session may have ended (expired, discarded) while the part streamed: say so.
      if (!(err instanceof DomainError)) await this.find(accountId, input.uploadId);
      throw err;
    }
    let kept = false;
    try {
      if (meter.bytes !== expected) {
        throw fieldError(
          'file',
          `must be exactly ${expected} bytes for part ${index} (${last ? 'the last part' : 'chunk_size'}), got ${meter.bytes}`,
        );
      }
      if (meter.hash.digest('hex') !== input.chunkHash) {
        throw fieldError('chunk_hash', 'does not match the MD5 of the part received');
      }
      kept = await this.recordPart(s.id, index, key, meter.bytes);
    } finally {
      if (!kept)
        await this.storage.delete(key).catch((e: unknown) => this.logger.warn(`orphan ${key}: ${String(e)}`));
    }
  }

  /**
   * Assembles the parts into one video upload. A repeated `complete` answers the same URL; one
   * arriving while another assembles waits for it.
   */
  async complete(accountId: number, uploadId: string): Promise<CompletedUpload> {
    const giveUpAt = nowMs() + ASSEMBLY_WAIT_MS;
    for (;;) {
      const s = await this.find(accountId, uploadId);
      if (s.status === UploadSessionStatus.Completed) return this.describe(s.resultKey);
      const now = nowMs();
      if (s.assemblingUntil > now) {
        if (now > giveUpAt) throw stillAssembling();
        await sleep(200);
        continue;
      }
      const parts = await this.db.manager.getRepository(UploadPartEntity).find({
        where: { sessionId: s.id },
        order: { chunkIndex: 'ASC' },
      });
      if (parts.length < s.totalChunks) {
        const have = new Set(parts.map((p) => p.chunkIndex));
        const missing: number[] = [];
        for (let i = 0; i < s.totalChunks && missing.length < CHUNK_RULES.missingShown; i++) {
          if (!have.has(i)) missing.push(i);
        }
        throw new IncompleteUploadError(missing, parts.length, s.totalChunks);
      }
      if (await this.claim(s.id, s.assemblingUntil)) return this.assemble(s, parts);
    }
  }

  private async assemble(s: UploadSessionEntity, parts: UploadPartEntity[]): Promise<CompletedUpload> {
    const heartbeat = setInterval(() => {
      this.db
        .execute('UPDATE upload_sessions SET assembling_until = ? WHERE id = ? AND assembling_until > 0', [
          nowMs() + ASSEMBLY_LEASE_MS,
          s.id,
        ])
        .catch((err: unknown) => this.logger.warn(`renewing the assembly of ${s.uploadId}: ${String(err)}`));
    }, ASSEMBLY_LEASE_MS / 3);
    heartbeat.unref();
    let settled = false;
    try {
      const storage = this.storage;
      async function* concatenated(): AsyncGenerator<Buffer> {
        for (const p of parts) yield* (await storage.open(p.storageKey)) as AsyncIterable<Buffer>;
      }
      const it = concatenated();
      const head = await readHead(it, SNIFF_BYTES);
      const type = sniffContentType(Buffer.concat(head.chunks));
      if (!type || type.family !== 'video') {
        await it.return(undefined);
        await this.discard(s);
        settled = true;
        throw unsupportedMediaType('video');
      }
      const now = nowMs();
      const key = this.uploads.newKey('video', type.ext, now);
      const meter = { bytes: 0, hash: createHash('md5') };
      const tooLong = new Error('longer than file_size');
      const body = metered(resume(head, it), s.fileSize, () => tooLong, meter);
      let stored: { size: number };
      try {
        stored = await this.storage.put(key, Readable.from(body), type.contentType);
      } catch (err) {
        if (err !== tooLong) throw err;
        stored = { size: -1 };
      }
      if (stored.size !== s.fileSize || meter.hash.digest('hex') !== s.fileHash) {
        await this.storage.delete(key);
        await this.discard(s);
        settled = true;
        throw mismatch();
      }
      try {
        await this.db.transaction(async (m) => {
          await this.uploadRows.insert(
            {
              accountId: s.accountId,
              kind: 'video',
              storageKey: key,
              contentType: type.contentType,
              size: stored.size,
              createTime: now,
              referenced: 0,
            },
            m,
          );
          await m.query(
            'UPDATE upload_sessions SET status = ?, result_key = ?, assembling_until = 0, expires_at = ? WHERE id = ?',
            [UploadSessionStatus.Completed, key, now + CHUNK_RULES.ttlMs, s.id],
          );
          await m.query('DELETE FROM upload_parts WHERE session_id = ?', [s.id]);
          await this.deletions.queue(m, [partsPrefix(s.uploadId)], 0, now);
        });
      } catch (err) {
        await this.storage.delete(key).catch(() => undefined);
        throw err;
      }
      settled = true;
      await this.deletions.flush([partsPrefix(s.uploadId)]);
      return this.describe(key);
    } finally {
      clearInterval(heartbeat);
      if (!settled) {
        await this.db
          .execute('UPDATE upload_sessions SET assembling_until = 0 WHERE id = ? AND status = ?', [
            s.id,
            UploadSessionStatus.Open,
          ])
          .catch(() => undefined);
      }
    }
  }

  /** The session is of no further use: its parts go, the row stays (404) until it expires. */
  private async discard(s: UploadSessionEntity): Promise<void> {
    await this.db.transaction(async (m) => {
      await m.query('UPDATE upload_sessions SET status = ?, assembling_until = 0 WHERE id = ?', [
        UploadSessionStatus.Discarded,
        s.id,
      ]);
      await m.query('DELETE FROM upload_parts WHERE session_id = ?', [s.id]);
      await this.deletions.queue(m, [partsPrefix(s.uploadId)]);
    });
    await this.deletions.flush([partsPrefix(s.uploadId)]);
  }

  /** Takes the assembly claim if nobody holds it (`seen` is the value read before). */
  private claim(sessionId: number, seen: number): Promise<boolean> {
    return this.db.transaction(async (m) => {
      const now = nowMs();
      const [row] = await m.query<
        { status: number; assembling_until: string | number; expires_at: string | number }[]
      >(
        `SELECT status, assembling_until, expires_at FROM upload_sessions WHERE id = ?${lockClause(this.db.dialect, 'update')}`,
        [sessionId],
      );
      const status = row ? Number(row.status) : null;
      if (
        status !== UploadSessionStatus.Open ||
        Number(row.assembling_until) !== seen ||
        Number(row.expires_at) <= now
      ) {
        return false;
      }
      await m.query('UPDATE upload_sessions SET assembling_until = ? WHERE id = ?', [
        now + ASSEMBLY_LEASE_MS,
        sessionId,
      ]);
      return true;
    });
  }

  /**
   * Records a stored part, keeping the session alive 24 h more. False when that index was
   * already recorded (or the upload completed meanwhile): the caller deletes its copy.
   */
  private recordPart(sessionId: number, index: number, key: string, size: number): Promise<boolean> {
    return this.db.transaction(async (m) => {
      const now = nowMs();
      // The session row's lock orders this against complete, discard and the sweeper.
      const [row] = await m.query<{ status: number; expires_at: string | number }[]>(
        `SELECT status, expires_at FROM upload_sessions WHERE id = ?${lockClause(this.db.dialect, 'update')}`,
        [sessionId],
      );
      const status = row ? Number(row.status) : null;
      if (status === UploadSessionStatus.Completed) return false;
      if (status !== UploadSessionStatus.Open || Number(row.expires_at) <= now) throw sessionNotFound();
      if (await this.hasPart(sessionId, index, m)) return false;
      await m
        .getRepository(UploadPartEntity)
        .insert({ sessionId, chunkIndex: index, storageKey: key, size, createTime: now });
      await m.query('UPDATE upload_sessions SET expires_at = ? WHERE id = ?', [
        now + CHUNK_RULES.ttlMs,
        sessionId,
      ]);
      return true;
    });
  }

  /** The caller's session: 404 unknown, expired or discarded; 403 someone else's. */
  private async find(accountId: number, uploadId: string): Promise<UploadSessionEntity> {
    const s = await this.db.manager.getRepository(UploadSessionEntity).findOne({ where: { uploadId } });
    if (!s || s.status === UploadSessionStatus.Discarded || s.expiresAt <= nowMs()) throw sessionNotFound();
    if (s.accountId !== accountId) throw notYourSession();
    return s;
  }

  private async hasPart(
    sessionId: number,
    index: number,
    m: EntityManager = this.db.manager,
  ): Promise<boolean> {
    const rows = await m.query<unknown[]>(
      'SELECT id FROM upload_parts WHERE session_id = ? AND chunk_index = ?',
      [sessionId, index],
    );
    return rows.length > 0;
  }

  private async storedIndices(m: EntityManager, sessionId: number): Promise<number[]> {
    const rows = await m.query<{ chunk_index: number }[]>(
      'SELECT chunk_index FROM upload_parts WHERE session_id = ? ORDER BY chunk_index',
      [sessionId],
    );
    return rows.map((r) => Number(r.chunk_index));
  }

  private describe(key: string): CompletedUpload {
    return { url: this.uploads.urlOf(key), key };
  }
}

const mismatch = () =>
  fieldError('file_hash', 'does not match the assembled file (the upload was discarded: start it again)');
