import { ApiProperty } from '@nestjs/swagger';
import { ValidateBy, ValidationArguments } from 'class-validator';
import { ErrorDetailResponse } from '../../http/api-responses';
import { CHUNK_RULES } from '@app/storage';
import { IsText, Trim } from '../../http/validators';

const isIntIn = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** A JSON integer in [min, max]; strings are not coerced. */
function IsIntIn(min: number, max: number): PropertyDecorator {
  return ValidateBy({
    name: 'isIntIn',
    validator: {
      validate: (v: unknown) => isIntIn(v, min, max),
      defaultMessage: (a?: ValidationArguments) =>
        `${a?.property ?? 'value'} must be an integer from ${min} to ${max}`,
    },
  });
}

/** `total_chunks` = ⌈file_size / chunk_size⌉ (only checked once both of those are valid). */
function IsTotalChunks(): PropertyDecorator {
  return ValidateBy({
    name: 'isTotalChunks',
    validator: {
      validate: (v: unknown, a?: ValidationArguments) => {
        if (!isIntIn(v, 1, CHUNK_RULES.maxFileSize)) return false;
        const o = a?.object as { file_size?: unknown; chunk_size?: unknown } | undefined;
        const fileSize = o?.file_size;
        const chunkSize = o?.chunk_size;
        if (!isIntIn(fileSize, 1, CHUNK_RULES.maxFileSize)) return true;
        if (!isIntIn(chunkSize, CHUNK_RULES.minChunkSize, CHUNK_RULES.maxChunkSize)) return true;
        return v === Math.ceil(fileSize / chunkSize);
      },
      defaultMessage: () => 'total_chunks must be ⌈file_size / chunk_size⌉',
    },
  });
}

export const MD5_HEX = /^[0-9a-f]{32}$/;

function IsMd5Hex(): PropertyDecorator {
  return ValidateBy({
    name: 'isMd5Hex',
    validator: {
      validate: (v: unknown) => typeof v === 'string' && MD5_HEX.test(v),
      defaultMessage: (a?: ValidationArguments) =>
        `${a?.property ?? 'value'} must be an MD5 as 32 lowercase hex digits`,
    },
  });
}

/** An upload id as the server issued it: a string (an unknown one is a 404, not a 400). */
export const isUploadId = (v: unknown): v is string =>
  typeof v === 'string' && v.length >= 1 && v.length <= 64;

function IsUploadId(): PropertyDecorator {
  return ValidateBy({
    name: 'isUploadId',
    validator: {
      validate: (v: unknown) => isUploadId(v),
      defaultMessage: () => 'upload_id must be the string /video/chunk/init returned',
    },
  });
}

export class ChunkInitDto {
  @ApiProperty({ minLength: 1, maxLength: 255, example: 'holiday.mp4', description: 'for people only' })
  @IsText(1, 255)
  filename!: string;

  @ApiProperty({ minimum: 1, maximum: CHUNK_RULES.maxFileSize, example: 12_345_678 })
  @IsIntIn(1, CHUNK_RULES.maxFileSize)
  file_size!: number;

  @ApiProperty({
    minimum: CHUNK_RULES.minChunkSize,
    maximum: CHUNK_RULES.maxChunkSize,
    example: 5 * 1024 * 1024,
    description: 'every part but the last is exactly this long',
  })
  @IsIntIn(CHUNK_RULES.minChunkSize, CHUNK_RULES.maxChunkSize)
  chunk_size!: number;

  @ApiProperty({ minimum: 1, example: 3, description: '⌈file_size / chunk_size⌉' })
  @IsTotalChunks()
  total_chunks!: number;

  @ApiProperty({
    pattern: MD5_HEX.source,
    example: '9e107d9d372bb6826bd81d3542a419d6',
    description: 'MD5 of the whole file',
  })
  @IsMd5Hex()
  file_hash!: string;
}

export class ChunkUploadRefDto {
  @ApiProperty({ maxLength: 64, example: '5f0c2a9e8b7d4c3a1f2e0d9c8b7a6f5e' })
  @Trim()
  @IsUploadId()
  upload_id!: string;
}

export class ChunkInitResponse {
  @ApiProperty({ description: 'the same id again when resuming' }) upload_id!: string;
  @ApiProperty({ type: [Number], description: 'indices already stored (resume); [] for a new upload' })
  uploaded_chunks!: number[];
}

export class ChunkStatusResponse extends ChunkInitResponse {
  @ApiProperty() total_chunks!: number;
}

export class ChunkPartResponse {
  @ApiProperty() chunk_index!: number;
}

export class ChunkCompleteResponse {
  @ApiProperty({ example: '/static/videos/2026/11/0123456789abcdef0123456789abcdef.mp4' }) url!: string;
  @ApiProperty({ description: 'the same URL, for /video/publish' }) play_url!: string;
}

/** SPEC §8.1: the 400 of a premature `complete`, SPEC §1's body with three more fields. */
export class ChunkIncompleteResponse {
  @ApiProperty({ example: 'not all chunks uploaded' }) error!: string;
  @ApiProperty({ enum: ['VALIDATION_FAILED'] }) code!: 'VALIDATION_FAILED';
  @ApiProperty({ type: [ErrorDetailResponse], example: [] }) details!: ErrorDetailResponse[];
  @ApiProperty({ type: [Number], description: 'the first missing indices (at most 5)' }) missing!: number[];
  @ApiProperty({ description: 'parts stored' }) completed!: number;
  @ApiProperty({ description: 'total_chunks' }) total!: number;
}
