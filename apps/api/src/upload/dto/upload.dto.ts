import { ApiProperty } from '@nestjs/swagger';

const URL_DOC =
  '/static/<key>, absolute under PUBLIC_BASE_URL, or <MEDIA_BASE_URL>/<key> (SPEC §3.2); pass it to /video/publish';

/** The multipart body of the single-file upload routes. */
export const FILE_BODY = {
  schema: {
    type: 'object',
    required: ['file'],
    properties: {
      file: { type: 'string', format: 'binary', description: 'the file; its type is judged by its content' },
    },
  },
};

export class UploadVideoResponse {
  @ApiProperty({
    example: '/static/videos/2026/11/0123456789abcdef0123456789abcdef.mp4',
    description: URL_DOC,
  })
  url!: string;
  @ApiProperty({ description: 'the same URL' }) play_url!: string;
}

export class UploadCoverResponse {
  @ApiProperty({
    example: '/static/covers/2026/11/0123456789abcdef0123456789abcdef.jpg',
    description: URL_DOC,
  })
  url!: string;
  @ApiProperty({ description: 'the same URL' }) cover_url!: string;
}

export class UploadAvatarResponse {
  @ApiProperty({
    example: '/static/avatars/2026/11/0123456789abcdef0123456789abcdef.png',
    description: 'for /account/updateProfile (same forms as the other uploads)',
  })
  avatar_url!: string;
}
