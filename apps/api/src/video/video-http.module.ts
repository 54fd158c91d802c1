import { Module } from '@nestjs/common';
import { VideoModule } from '@app/video';
import { VideoController } from './video.controller';

/** HTTP edge of the video domain (the upload routes live in UploadHttpModule). */
@Module({
  imports: [VideoModule],
  controllers: [VideoController],
})
export class VideoHttpModule {}
