import { Module } from '@nestjs/common';

/** HTTP edge of the video domain: controllers and request DTOs (filled in by its issue). */
@Module({})
export class VideoHttpModule {}
