import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { CacheAside, CacheKeys, CacheStore } from '@app/cache';
import type { VideoView } from './video.view';

const DETAIL_TTL_MS = 5 * 60 * 1000;
/** Unknown ids are cached briefly (penetration), never long: ids are handed out later. */
const NEGATIVE_TTL_MS = 5 * 1000;
/** A reader that loaded the old row just before a change may write it back after our delete. */
const SECOND_DELETE_MS = 500;

/**
 * `video:detail:id=<id>` (SPEC §5). Every invalidation deletes the key at once and again a
 * moment later (batched), which removes a stale value a concurrent reload put back.
 */
@Injectable()
export class VideoDetailCache implements OnModuleDestroy {
  private pending = new Set<number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: CacheStore,
    private readonly aside: CacheAside,
  ) {}

  async get(id: number, load: () => Promise<VideoView | null>): Promise<VideoView | null> {
    let loaded = false;
    const key = CacheKeys.videoDetail(id);
    const view = await this.aside.getOrLoad<VideoView | null>(
      key,
      { ttlMs: DETAIL_TTL_MS, name: 'video_detail' },
      async () => {
        loaded = true;
        return load();
      },
    );
    if (loaded && view === null) await this.store.set(key, 'null', NEGATIVE_TTL_MS);
    return view;
  }

  async invalidate(...ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.store.del(...ids.map((id) => CacheKeys.videoDetail(id)));
    for (const id of ids) this.pending.add(id);
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), SECOND_DELETE_MS);
      this.timer.unref();
    }
  }

  private async flush(): Promise<void> {
    this.timer = null;
    const ids = [...this.pending];
    this.pending = new Set();
    if (ids.length > 0) await this.store.del(...ids.map((id) => CacheKeys.videoDetail(id)));
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.flush();
  }
}
