import {
  ArgumentsHost,
  Body,
  Catch,
  Controller,
  ExceptionFilter,
  HttpCode,
  Logger,
  Post,
  Req,
  Res,
  UseFilters,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { MultipartFields } from '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ErrorCode, FieldError, fieldError, validationError } from '@app/core';
import {
  CHUNK_RULES,
  ChunkPartInput,
  ChunkUploadService,
  IncompleteUploadError,
  partTooLarge,
} from '@app/storage';
import type { AuthAccount } from '@app/account';
import { ApiCommonErrors, ApiErrors } from '../http/api-errors';
import { CurrentAccount } from '../http/current-account.decorator';
import { RateLimit } from '../http/rate-limit.decorator';
import {
  ChunkCompleteResponse,
  ChunkIncompleteResponse,
  ChunkInitDto,
  ChunkInitResponse,
  ChunkPartResponse,
  ChunkStatusResponse,
  ChunkUploadRefDto,
  isUploadId,
  MD5_HEX,
} from './dto/chunk-upload.dto';
import {
  assertFieldCount,
  MAX_FIELD_BYTES,
  multipartFailure,
  multipartLimits,
  pauseBodyOnAbort,
  wholePartStream,
} from './multipart-errors';
import { spoolPart, type SpooledPart, SpoolSlots } from './spooled-part';

/** SPEC §8.1: a premature `complete` is a 400 that also carries `missing`, `completed`, `total`. */
@Catch(IncompleteUploadError)
export class IncompleteUploadFilter implements ExceptionFilter {
  catch(e: IncompleteUploadError, host: ArgumentsHost): void {
    void host
      .switchToHttp()
      .getResponse<FastifyReply>()
      .status(400)
      .header('content-type', 'application/json; charset=utf-8')
      .send({
        error: e.message,
        code: e.code,
        details: e.details ?? [],
        missing: e.missing,
        completed: e.completed,
        total: e.total,
      });
  }
}

const PART_BODY = {
  schema: {
    type: 'object',
    required: ['upload_id', 'chunk_index', 'chunk_hash', 'file'],
    properties: {
      upload_id: { type: 'string', description: 'from /video/chunk/init' },
      chunk_index: { type: 'integer', minimum: 0, description: 'in [0, total_chunks)' },
      chunk_hash: { type: 'string', pattern: '^[0-9a-fA-F]{32}$', description: 'MD5 of this part' },
      file: {
        type: 'string',
        format: 'binary',
        description:
          'the part: exactly chunk_size bytes, the last one the rest. Best sent after the three fields (then streamed; before them, it is kept in a temporary file until they arrive).',
      },
    },
  },
};

const PART_FIELDS = ['upload_id', 'chunk_index', 'chunk_hash'] as const;

/** Whether the form has sent every text field of a part so far (each checked by {@link readPartFields}). */
function hasPartFields(fields: MultipartFields): boolean {
  return PART_FIELDS.every((name) => {
    const f = fields[name];
    return (Array.isArray(f) ? f[0] : f)?.type === 'field';
  });
}

/** A part's three text fields, whichever side of the file they were sent on. */
function readPartFields(fields: MultipartFields): ChunkPartInput {
  const text = (name: string): string | undefined => {
    const f = fields[name];
    const one = Array.isArray(f) ? f[0] : f;
    return one && one.type === 'field' && !one.valueTruncated && typeof one.value === 'string'
      ? one.value.trim()
      : undefined;
  };
  const truncated = (name: string): boolean => {
    const f = fields[name];
    const one = Array.isArray(f) ? f[0] : f;
    return one?.type === 'field' && one.valueTruncated;
  };
  const errors: FieldError[] = [];
  const bad = (field: string, reason: string) =>
    errors.push({
      field,
      message: `${field} ${truncated(field) ? `is longer than ${MAX_FIELD_BYTES} bytes` : reason}`,
    });
  const uploadId = text('upload_id');
  if (!isUploadId(uploadId)) bad('upload_id', 'is required: the string /video/chunk/init returned');
  const index = text('chunk_index');
  if (index === undefined || !/^\d{1,9}$/.test(index)) bad('chunk_index', 'is required: an integer ≥ 0');
  const hash = text('chunk_hash')?.toLowerCase();
  if (hash === undefined || !MD5_HEX.test(hash))
    bad('chunk_hash', 'is required: the MD5 of the part (32 hex digits)');
  if (errors.length) throw validationError(errors[0].message, errors);
  return { uploadId: uploadId as string, chunkIndex: Number(index), chunkHash: hash as string };
}

/** Resumable chunked uploads (SPEC §8.1). */
@ApiTags('uploads')
@ApiBearerAuth()
@ApiCommonErrors()
@Controller('video/chunk')
export class ChunkUploadController {
  private readonly logger = new Logger(ChunkUploadController.name);
  /** Parts sent before their fields, kept on disk at once: 2 per account, 16 in all (≤ 256 MiB). */
  private readonly spoolSlots = new SpoolSlots(2, 16);

  constructor(private readonly chunks: ChunkUploadService) {}

  @Post('init')
  @RateLimit('upload')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Start a chunked upload, or resume one: the same file_hash, file_size and chunk_size return the open session and its stored indices (409 over 5 open, 413 over the quota)',
  })
  @ApiOkResponse({ type: ChunkInitResponse })
  @ApiErrors(401, 409, 429)
  async init(@CurrentAccount() me: AuthAccount, @Body() dto: ChunkInitDto): Promise<ChunkInitResponse> {
    const s = await this.chunks.init(me.id, {
      filename: dto.filename,
      fileSize: dto.file_size,
      chunkSize: dto.chunk_size,
      totalChunks: dto.total_chunks,
      fileHash: dto.file_hash,
    });
    return { upload_id: s.uploadId, uploaded_chunks: s.uploadedChunks };
  }

  @Post('upload')
  @HttpCode(200)
  @ApiConsumes('multipart/form-data')
  @ApiBody(PART_BODY)
  @ApiOperation({
    summary:
      'Store one part (multipart: upload_id, chunk_index, chunk_hash and file; the fields best before the file, which then streams to storage). An index already stored is a 200 without rewriting; 400 bad index, size or hash; 403; 404; 413 over chunk_size',
  })
  @ApiOkResponse({ type: ChunkPartResponse })
  @ApiErrors(401, 403, 404)
  async upload(
    @CurrentAccount() me: AuthAccount,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ChunkPartResponse> {
    let spool: SpooledPart | undefined;
    let slot = false;
    try {
      if (!req.isMultipart()) {
        throw validationError('send multipart/form-data: upload_id, chunk_index, chunk_hash and file', [
          { field: 'file', message: 'file is required' },
        ]);
      }
      let fields: MultipartFields = {};
      // One byte over the largest chunk_size reaches the service, which answers 413 itself.
      for await (const part of req.parts({ limits: multipartLimits(CHUNK_RULES.maxChunkSize + 1) })) {
        fields = part.fields ?? fields;
        if (part.type !== 'file') continue;
        assertFieldCount(part.fields);
        if (part.fieldname !== 'file')
          throw fieldError('file', 'is required (the part must be named "file")');
        if (hasPartFields(part.fields)) {
          // The usual order, fields first: the part streams straight to storage.
          const input = readPartFields(part.fields);
          pauseBodyOnAbort(req, part.file);
          await this.chunks.storePart(me.id, input, wholePartStream(part.file));
          return { chunk_index: input.chunkIndex };
        }
        // The file before (some of) its fields: kept in a temporary file while the rest of the
        // form is read, since what it is and where it goes are only known from those fields.
        slot = this.spoolSlots.take(me.id);
        if (!slot) {
          throw new DomainError(
            ErrorCode.RateLimited,
            'too many parts sent before their fields at once; send upload_id, chunk_index and chunk_hash before file',
            undefined,
            1,
          );
        }
        spool = await spoolPart(part.file, () => partTooLarge(CHUNK_RULES.maxChunkSize));
      }
      // The parts end early when the client goes away: no form was received whole, nothing is stored.
      if (!req.raw.complete) throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
      if (spool === undefined) throw fieldError('file', 'is required');
      assertFieldCount(fields);
      const input = readPartFields(fields);
      await this.chunks.storePart(me.id, input, spool.read());
      return { chunk_index: input.chunkIndex };
    } catch (err) {
      throw multipartFailure(req, reply, err, () => partTooLarge(CHUNK_RULES.maxChunkSize), this.logger);
    } finally {
      await spool?.remove();
      if (slot) this.spoolSlots.give(me.id);
    }
  }

  @Post('status')
  @HttpCode(200)
  @ApiOperation({ summary: 'The indices stored so far (403 not yours, 404 unknown or expired)' })
  @ApiOkResponse({ type: ChunkStatusResponse })
  @ApiErrors(401, 403, 404)
  async status(
    @CurrentAccount() me: AuthAccount,
    @Body() dto: ChunkUploadRefDto,
  ): Promise<ChunkStatusResponse> {
    const s = await this.chunks.status(me.id, dto.upload_id);
    return { upload_id: s.uploadId, uploaded_chunks: s.uploadedChunks, total_chunks: s.totalChunks };
  }

  @Post('complete')
  @HttpCode(200)
  @UseFilters(IncompleteUploadFilter)
  @ApiOperation({
    summary:
      'Assemble the parts into one video upload, checked against file_hash and file_size (400, the upload discarded) and by content (415); a repeat answers the same URL',
  })
  @ApiOkResponse({ type: ChunkCompleteResponse })
  @ApiBadRequestResponse({ type: ChunkIncompleteResponse, description: 'not all chunks uploaded' })
  @ApiErrors(401, 403, 404, 409)
  async complete(
    @CurrentAccount() me: AuthAccount,
    @Body() dto: ChunkUploadRefDto,
  ): Promise<ChunkCompleteResponse> {
    const done = await this.chunks.complete(me.id, dto.upload_id);
    return { url: done.url, play_url: done.url };
  }
}
