import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, fieldError, validationError } from '@app/core';
import { payloadTooLarge, UPLOAD_RULES, UploadService } from '@app/storage';
import type { StoredUpload, UploadKind } from '@app/storage';
import type { AuthAccount } from '@app/account';
import { CurrentAccount } from '../http/current-account.decorator';
import { RateLimit } from '../http/rate-limit.decorator';

const FILE_BODY = {
  schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', format: 'binary' } } },
};

interface MultipartError {
  statusCode?: number;
  code?: string;
}

/** Multipart uploads (SPEC §3.1 uploadAvatar, §3.2 uploadVideo / uploadCover), field `file`. */
@ApiTags('uploads')
@ApiBearerAuth()
@ApiConsumes('multipart/form-data')
@Controller()
export class UploadController {
  constructor(private readonly uploads: UploadService) {}

  @Post('video/uploadVideo')
  @RateLimit('upload')
  @HttpCode(200)
  @ApiBody(FILE_BODY)
  @ApiOkResponse({ description: '{url, play_url}: an MP4 or WebM (by content), up to 200 MiB' })
  async uploadVideo(
    @CurrentAccount() me: AuthAccount,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ url: string; play_url: string }> {
    const u = await this.receive(me, req, reply, 'video');
    return { url: u.url, play_url: u.url };
  }

  @Post('video/uploadCover')
  @RateLimit('upload')
  @HttpCode(200)
  @ApiBody(FILE_BODY)
  @ApiOkResponse({ description: '{url, cover_url}: a JPEG, PNG or WebP (by content), up to 10 MiB' })
  async uploadCover(
    @CurrentAccount() me: AuthAccount,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ url: string; cover_url: string }> {
    const u = await this.receive(me, req, reply, 'cover');
    return { url: u.url, cover_url: u.url };
  }

  @Post('account/uploadAvatar')
  @RateLimit('upload')
  @HttpCode(200)
  @ApiBody(FILE_BODY)
  @ApiOkResponse({ description: '{avatar_url}: a JPEG, PNG or WebP (by content), up to 10 MiB' })
  async uploadAvatar(
    @CurrentAccount() me: AuthAccount,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ avatar_url: string }> {
    const u = await this.receive(me, req, reply, 'avatar');
    return { avatar_url: u.url };
  }

  private async receive(
    me: AuthAccount,
    req: FastifyRequest,
    reply: FastifyReply,
    kind: UploadKind,
  ): Promise<StoredUpload> {
    try {
      if (!req.isMultipart()) {
        throw validationError('send multipart/form-data with a "file" field', [
          { field: 'file', message: 'file is required' },
        ]);
      }
      const part = await req.file({
        // One byte over the limit reaches the service, which refuses it while streaming (413).
        limits: {
          fileSize: UPLOAD_RULES[kind].maxBytes + 1,
          files: 1,
          fields: 10,
          fieldSize: 1024,
          parts: 12,
        },
      });
      if (!part) throw fieldError('file', 'is required');
      if (part.fieldname !== 'file') throw fieldError('file', 'is required (the part must be named "file")');
      return await this.uploads.store(me.id, kind, part.file);
    } catch (err) {
      // The rest of the body is never read: answer, then close the connection instead of draining it.
      void reply.header('connection', 'close');
      lingerOnClose(req);
      throw this.translate(err, kind);
    }
  }

  private translate(err: unknown, kind: UploadKind): unknown {
    if (err instanceof DomainError) return err;
    const e = err as MultipartError | null;
    if (e && typeof e === 'object' && typeof e.statusCode === 'number' && e.statusCode < 500) {
      if (e.statusCode === 413) return payloadTooLarge(kind);
      return validationError('malformed multipart body', [
        { field: 'file', message: 'file could not be read' },
      ]);
    }
    if (err instanceof Error && /unexpected end of (form|multipart)|malformed|boundary/i.test(err.message)) {
      return validationError('malformed multipart body', [
        { field: 'file', message: 'file could not be read' },
      ]);
    }
    return err;
  }
}

const LINGER_MS = 2000;
const LINGER_BYTES = 8 * 1024 * 1024;

/**
 * After an early error answer (413/415) the client is usually still sending. Closing a socket
 * with unread bytes makes the kernel send a reset, and a reset can destroy the answer before
 * the client has read it. So: send FIN after the answer, discard what is still in flight for a
 * short, bounded time (and bytes), then close — a lingering close, as nginx does. The body is
 * still never read to its end.
 */
function lingerOnClose(req: FastifyRequest): void {
  const raw = req.raw;
  const socket = raw.socket as (typeof raw.socket & { destroySoon?: () => void }) | null;
  if (!socket || socket.destroyed) return;
  socket.destroySoon = function lingeringClose(this: typeof socket): void {
    let discarded = 0;
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
    raw.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > LINGER_BYTES) this.destroy();
    });
    raw.resume();
    this.end();
  };
}
