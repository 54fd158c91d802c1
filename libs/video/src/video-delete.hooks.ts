import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AfterCommitHooks } from '@app/core';
import type { VideoRef } from './video-publish.hooks';

/** Removes rows that belong to a video, inside the transaction that deletes the video. */
export type VideoDeleteHook = (manager: EntityManager, videoId: number) => Promise<void>;

/**
 * Domains above video (likes, comments) register here so that deleting a video removes
 * their rows in the same transaction, without video depending on them; `registerAfterCommit`
 * hooks (the feeds' indexes, the upload janitor) run after the commit with the video's author and
 * tags, before the delete answers.
 */
@Injectable()
export class VideoDeleteHooks extends AfterCommitHooks<[video: VideoRef]> {
  private readonly hooks: VideoDeleteHook[] = [];

  register(hook: VideoDeleteHook): void {
    this.hooks.push(hook);
  }

  async run(manager: EntityManager, videoId: number): Promise<void> {
    for (const hook of this.hooks) await hook(manager, videoId);
  }
}
