import { Injectable } from '@nestjs/common';
import { ExpiringMap } from '@app/core';
import { VideoListGeneration } from '@app/video';
import type { CachedPage } from './feed-page-cache';
import { FeedRepository } from './feed.repository';

/** How long a finished page is held for requests under the same generation (the page cache's TTL, SPEC §5). */
export const SHARED_HOLD_MS = 5000;
/** Finished pages held per process (the oldest dropped first). */
const SHARED_HOLD_MAX = 2000;

/**
 * Pages that are not cached in Redis (likes count, popularity, tags) but are shared while they
 * are built and for a short while after: a request for a page whose build is running joins it, and
 * one for a page built in this process in the last {@link SHARED_HOLD_MS} takes it, when no listed
 * video has changed since that build started (the {@link VideoListGeneration} it started under is
 * still current) and both read the same source (a replica's page is not handed to a caller whose
 * reads go to the primary, SPEC §7.5). Every change moves the generation with its detail and
 * index marks (in the same script; on a cluster right after each) and before it answers, so a
 * change that has answered is in every page asked for after it; a generation write Redis refused
 * leaves a held page in use until its 5 s are up. Under a read load that is one build per page
 * per generation (or 5 s) instead of one per request; a lone request is a plain query. When the
 * generation cannot be read (Redis not answering) nothing is shared.
 */
@Injectable()
export class SharedPages {
  private readonly running = new Map<string, Promise<CachedPage>>();
  /** The pages held, by the source they read (primary, replica) and their key, under {@link heldGeneration}. */
  private readonly held = [
    new ExpiringMap<CachedPage>(SHARED_HOLD_MAX),
    new ExpiringMap<CachedPage>(SHARED_HOLD_MAX),
  ];
  /** The generation of the pages held: a new one makes them all unreachable, so they are dropped. */
  private heldGeneration: string | undefined;

  constructor(
    private readonly generation: VideoListGeneration,
    private readonly repo: FeedRepository,
  ) {}

  async get(key: string, build: () => Promise<CachedPage>): Promise<CachedPage> {
    const generation = await this.generation.current();
    if (generation === undefined) return build();
    // Without read replicas (the usual case) no await: a held page costs no further turn.
    const replicaRead = this.repo.readsReplica();
    const replica = typeof replicaRead === 'boolean' ? replicaRead : await replicaRead;
    if (generation !== this.heldGeneration) {
      for (const h of this.held) h.clear();
      this.heldGeneration = generation;
    }
    const held = this.held[replica ? 1 : 0];
    const done = held.get(key);
    if (done !== undefined) return done;
    const shared = `${generation}:${replica ? 'replica' : 'primary'}:${key}`;
    const running = this.running.get(shared);
    if (running !== undefined) return running;
    const started = Date.now();
    const p = build()
      .then((page) => {
        if (generation === this.heldGeneration) held.set(key, page, started + SHARED_HOLD_MS);
        return page;
      })
      .finally(() => this.running.delete(shared));
    this.running.set(shared, p);
    return p;
  }
}
