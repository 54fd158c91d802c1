import { Controller, HttpCode, Logger, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { fieldError, validationError } from '@app/core';
import { payloadTooLarge, UPLOAD_RULES, UploadService } from '@app/storage';
import type { StoredUpload, UploadKind } from '@app/storage';
import type { AuthAccount } from '@app/account';
import { ApiCommonErrors, ApiErrors } from '../http/api-errors';
import { CurrentAccount } from '../http/current-account.decorator';
import { RateLimit } from '../http/rate-limit.decorator';
import { FILE_BODY, UploadAvatarResponse, UploadCoverResponse, UploadVideoResponse } from './dto/upload.dto';
import {
  assertFieldCount,
  multipartFailure,
  multipartLimits,
  pauseBodyOnAbort,
  wholePartStream,
} from './multipart-errors';

/** Multipart uploads (SPEC §3.1 uploadAvatar, §3.2 uploadVideo / uploadCover), field `file`. */
@ApiTags('uploads')
@ApiBearerAuth()
@ApiCommonErrors()
@Controller()
export class UploadController {
  private readonly logger = new Logger(UploadController.name);

  constructor(private readonly uploads: UploadService) {}

  @Post('video/uploadVideo')
  @RateLimit('upload')
  @HttpCode(200)
  @ApiConsumes('multipart/form-data')
  @ApiBody(FILE_BODY)
  @ApiOperation({
    summary: 'Upload a video: an MP4 or WebM (by content), up to 200 MiB (413 also past UPLOAD_QUOTA)',
  })
  @ApiOkResponse({ type: UploadVideoResponse })
  @ApiErrors(401, 429)
  async uploadVideo(
    @CurrentAccount() me: AuthAccount,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<UploadVideoResponse> {
    const u = await this.receive(me, req, reply, 'video');
    return { url: u.url, play_url: u.url };
  }

  @Post('video/uploadCover')
  @RateLimit('upload')
  @HttpCode(200)
  @ApiConsumes('multipart/form-data')
  @ApiBody(FILE_BODY)
  @ApiOperation({
    summary: 'Upload a cover: a JPEG, PNG or WebP (by content), up to 10 MiB (413 also past UPLOAD_QUOTA)',
  })
  @ApiOkResponse({ type: UploadCoverResponse })
  @ApiErrors(401, 429)
  async uploadCover(
    @CurrentAccount() me: AuthAccount,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<UploadCoverResponse> {
    const u = await this.receive(me, req, reply, 'cover');
    return { url: u.url, cover_url: u.url };
  }

  @Post('account/uploadAvatar')
  @RateLimit('upload')
  @HttpCode(200)
  @ApiConsumes('multipart/form-data')
  @ApiBody(FILE_BODY)
  @ApiOperation({
    summary:
      'Upload an avatar: a JPEG, PNG or WebP (by content), up to 10 MiB (413 also past UPLOAD_QUOTA); set it with /account/updateProfile',
  })
  @ApiOkResponse({ type: UploadAvatarResponse })
  @ApiErrors(401, 429)
  async uploadAvatar(
    @CurrentAccount() me: AuthAccount,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<UploadAvatarResponse> {
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
      // One byte over the limit reaches the service, which refuses it while streaming (413).
      const part = await req.file({ limits: multipartLimits(UPLOAD_RULES[kind].maxBytes + 1) });
      if (!part) throw fieldError('file', 'is required');
      assertFieldCount(part.fields);
      if (part.fieldname !== 'file') throw fieldError('file', 'is required (the part must be named "file")');
      pauseBodyOnAbort(req, part.file);
      return await this.uploads.store(me.id, kind, wholePartStream(part.file));
    } catch (err) {
      throw multipartFailure(req, reply, err, () => payloadTooLarge(kind), this.logger);
    }
  }
}
