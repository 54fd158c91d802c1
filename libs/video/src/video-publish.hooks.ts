import { Injectable } from '@nestjs/common';

/** A video just published or deleted (committed), as the hooks see it. */
export interface VideoRef {
  id: number;
  authorId: number;
  createTime: number;
  /** Its tags (normalised names, as `video_tags` holds them). */
  tags: string[];
}

/** Runs after a publish committed, before the request answers (e.g. the latest index). Must not throw. */
export type AfterVideoPublishHook = (video: VideoRef) => Promise<void>;

/**
 * Domains above video (the feeds) register here to see a publish at once in the process that
 * served it, without video depending on them. The `video.publish` event carries it to the worker.
 */
@Injectable()
export class VideoPublishHooks {
  private readonly hooks: AfterVideoPublishHook[] = [];

  register(hook: AfterVideoPublishHook): void {
    this.hooks.push(hook);
  }

  /** Called by VideoService after commit; a failing hook is reported to `onError`, never thrown. */
  async run(video: VideoRef, onError: (err: unknown) => void): Promise<void> {
    for (const hook of this.hooks) {
      try {
        await hook(video);
      } catch (err) {
        onError(err);
      }
    }
  }
}
