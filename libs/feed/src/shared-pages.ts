import { Injectable } from '@nestjs/common';
import { VideoListGeneration } from '@app/video';
import type { CachedPage } from './feed-page-cache';
import { FeedRepository } from './feed.repository';

/**
 * Pages that are not cached (likes count, popularity, tags) but are shared while they are built:
 * a request for a page whose build is running joins it, when no listed video has changed since the
 * build started (the {@link VideoListGeneration} it started under is still current) and both read
 * the same source (a replica's page is not handed to a caller whose reads go to the primary,
 * SPEC §7.5). So a page is never older than the request's own query would have been by more than
 * that query's duration, and a change that has answered is in every page asked for after it. Under
 * a read load that is one query per page per query time instead of one per request; a lone request
 * is a plain query. When the generation cannot be read (Redis not answering) nothing is shared.
 */
@Injectable()
export class SharedPages {
  private readonly running = new Map<string, Promise<CachedPage>>();

  constructor(
    private readonly generation: VideoListGeneration,
    private readonly repo: FeedRepository,
  ) {}

  async get(key: string, build: () => Promise<CachedPage>): Promise<CachedPage> {
    const generation = await this.generation.current();
    if (generation === undefined) return build();
    const source = (await this.repo.readsReplica()) ? 'replica' : 'primary';
    const shared = `${generation}:${source}:${key}`;
    const running = this.running.get(shared);
    if (running !== undefined) return running;
    const p = build().finally(() => this.running.delete(shared));
    this.running.set(shared, p);
    return p;
  }
}
