import { Injectable } from '@nestjs/common';
import { AfterCommitHooks } from '@app/core';

/** A video just published or deleted (committed), as the hooks see it. */
export interface VideoRef {
  id: number;
  authorId: number;
  createTime: number;
  /** Its tags (normalised names, as `video_tags` holds them). */
  tags: string[];
}

/**
 * Domains above video (the feeds) register here to see a publish at once in the process that
 * served it (after the commit, before it answers), without video depending on them. The
 * `video.publish` event carries it to the worker.
 */
@Injectable()
export class VideoPublishHooks extends AfterCommitHooks<[video: VideoRef]> {}
