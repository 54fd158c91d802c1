import { Module } from '@nestjs/common';

/** HTTP edge of the social domain: controllers and request DTOs (filled in by its issue). */
@Module({})
export class SocialHttpModule {}
