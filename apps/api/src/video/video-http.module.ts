import { Module } from '@nestjs/common';
import { VideoModule, VideoService } from '@app/video';
import { FastReads, idField, uintFields } from '../http/fast-reads';
import { cursorOrUndefined, resolveLimit } from '../http/validators';
import { VideoController } from './video.controller';

/**
 * HTTP edge of the video domain (the upload routes live in UploadHttpModule), with the fast paths
 * of getDetail and listByAuthorID (see {@link FastReads}): the controller's service calls, for
 * bodies VideoIdDto / ListByAuthorDto take unchanged.
 */
@Module({
  imports: [VideoModule],
  controllers: [VideoController],
})
export class VideoHttpModule {
  constructor(fastReads: FastReads, videos: VideoService) {
    fastReads.add<number>({
      url: '/video/getDetail',
      auth: 'public',
      query: (b) => idField(b.id),
      answer: (id) => videos.getDetailJson(id),
    });
    fastReads.add<{ author: number; idBefore: number; limit: number }>({
      url: '/video/listByAuthorID',
      auth: 'public',
      query: (b) => {
        const author = idField(b.author_id);
        const f = uintFields(b, ['id_before', 'limit']);
        return author === null || f === null ? null : { author, idBefore: f.id_before, limit: f.limit };
      },
      answer: (q) => videos.listByAuthorJson(q.author, cursorOrUndefined(q.idBefore), resolveLimit(q.limit)),
    });
  }
}
