import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { VideoRef } from './video-publish.hooks';

/** Removes rows that belong to a video, inside the transaction that deletes the video. */
export type VideoDeleteHook = (manager: EntityManager, videoId: number) => Promise<void>;
/** Runs after the delete committed (e.g. removes the video's files). Errors are logged, not thrown. */
export type AfterVideoDeleteHook = (video: VideoRef) => Promise<void>;

/**
 * Domains above video (likes, comments) register here so that deleting a video removes
 * their rows in the same transaction, without video depending on them.
 */
@Injectable()
export class VideoDeleteHooks {
  private readonly hooks: VideoDeleteHook[] = [];
  private readonly afterCommit: AfterVideoDeleteHook[] = [];

  register(hook: VideoDeleteHook): void {
    this.hooks.push(hook);
  }

  registerAfterCommit(hook: AfterVideoDeleteHook): void {
    this.afterCommit.push(hook);
  }

  async run(manager: EntityManager, videoId: number): Promise<void> {
    for (const hook of this.hooks) await hook(manager, videoId);
  }

  /** Called by VideoService after commit; never throws. */
  async runAfterCommit(video: VideoRef, onError: (err: unknown) => void): Promise<void> {
    for (const hook of this.afterCommit) {
      try {
        await hook(video);
      } catch (err) {
        onError(err);
      }
    }
  }
}
