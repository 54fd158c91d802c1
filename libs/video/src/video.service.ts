import { Injectable, Logger } from '@nestjs/common';
import { Database, IdempotencyService, nowMs } from '@app/core';
import { EventBus, makeEvent } from '@app/events';
import { AuthorIndex } from './author-index';
import { VideoDeleteHooks } from './video-delete.hooks';
import { VideoDetailCache } from './video-detail.cache';
import { VideoPublishHooks, VideoRef } from './video-publish.hooks';
import { VideoTagRepository } from './video-tag.repository';
import { decodeTags, encodeTags, parseTags } from './video-tags';
import { VideoErrors } from './video.errors';
import { VideoRepository } from './video.repository';
import { toVideoView, VideoView } from './video.view';
import { lockAuthorName } from './row-lock';

export interface PublishVideoInput {
  title: string;
  description: string;
  playUrl: string;
  coverUrl: string;
}

export const VIDEO_PUBLISH_ROUTE = 'video/publish';

@Injectable()
export class VideoService {
  private readonly logger = new Logger(VideoService.name);

  constructor(
    private readonly db: Database,
    private readonly videos: VideoRepository,
    private readonly cache: VideoDetailCache,
    private readonly deleteHooks: VideoDeleteHooks,
    private readonly idempotency: IdempotencyService,
    private readonly tags: VideoTagRepository,
    private readonly bus: EventBus,
    private readonly publishHooks: VideoPublishHooks,
    private readonly authorIndex: AuthorIndex,
  ) {}

  /**
   * Counters start at 0. With an idempotency key, a retry replays the first response. Emits
   * `video.publish` (ours, SPEC §4) in the same transaction: the followers' timelines get the video
   * from its handler (the worker with a broker, else this request after its commit).
   */
  async publish(authorId: number, input: PublishVideoInput, idempotencyKey?: string): Promise<VideoView> {
    const scope = idempotencyKey
      ? { accountId: authorId, route: VIDEO_PUBLISH_ROUTE, key: idempotencyKey }
      : null;
    return this.idempotency.once<VideoView>(scope, async (save) => {
      const view = await this.bus.transaction(async (manager, emit) => {
        const username = await lockAuthorName(manager, this.db.dialect, authorId);
        if (username === null) throw VideoErrors.authorNotFound();
        const tags = parseTags(input.title, input.description);
        const row = await this.videos.insert(manager, {
          authorId,
          username,
          title: input.title,
          description: input.description,
          playUrl: input.playUrl,
          coverUrl: input.coverUrl,
          createTime: nowMs(),
          likesCount: 0,
          commentsCount: 0,
          popularity: 0,
          tags: encodeTags(tags),
        });
        await this.tags.attach(manager, row.id, row.createTime, tags);
        emit(
          makeEvent('video.publish', {
            video_id: row.id,
            author_id: authorId,
            create_time: row.createTime,
            tags,
          }),
        );
        const v = toVideoView(row);
        await save(manager, v);
        return v;
      });
      const ref: VideoRef = {
        id: view.id,
        authorId: view.author_id,
        createTime: Date.parse(view.create_time),
        tags: view.tags,
      };
      // Independent Redis writes (neither throws): one round trip of waiting, not two.
      await Promise.all([
        this.authorIndex.push([ref]),
        this.publishHooks.runAfterCommit([ref], (err) =>
          this.logger.error(`after-publish hook failed for video ${view.id}: ${String(err)}`),
        ),
      ]);
      // A lookup of this id before it existed may have left a negative entry. After the index
      // pushes: the new generation it writes must not be read before the indexes hold the video.
      await this.cache.invalidate(view.id);
      return view;
    });
  }

  /**
   * Newest first below `idBefore`: from the author's index when it can answer, the items from
   * their `getDetail` entries (one MGET); else the SQL query, which may read a replica.
   */
  async listByAuthor(authorId: number, idBefore: number | undefined, limit: number): Promise<VideoView[]> {
    const entries = await this.listByAuthorFromIndex(authorId, idBefore ?? 0, limit);
    if (entries === undefined) return this.listByAuthorFromSql(authorId, idBefore, limit);
    return entries.map((e) => (typeof e === 'string' ? (JSON.parse(e) as VideoView) : e));
  }

  /**
   * {@link listByAuthor}'s answer as JSON text: from the author's index, each item the text its
   * `getDetail` entry was cached as (`JSON.stringify` of the view, unparsed), so the same bytes.
   */
  async listByAuthorJson(authorId: number, idBefore: number | undefined, limit: number): Promise<string> {
    const entries = await this.listByAuthorFromIndex(authorId, idBefore ?? 0, limit);
    if (entries === undefined)
      return JSON.stringify(await this.listByAuthorFromSql(authorId, idBefore, limit));
    let json = '[';
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      json += (i > 0 ? ',' : '') + (typeof e === 'string' ? e : JSON.stringify(e));
    }
    return json + ']';
  }

  /** The SQL query's page; its videos are offered to the `getDetail` entries (the next page, from the index, reads them there). */
  private async listByAuthorFromSql(
    authorId: number,
    idBefore: number | undefined,
    limit: number,
  ): Promise<VideoView[]> {
    const readAt = Date.now();
    const views = await this.videos.listByAuthor(authorId, idBefore, limit);
    this.cache.offer(views, readAt);
    return views;
  }

  /**
   * The page from the author's index ({@link VideoDetailCache.pageEntriesOf}: an entry's text, or
   * the view); undefined = ask SQL.
   */
  private async listByAuthorFromIndex(
    authorId: number,
    idBefore: number,
    limit: number,
  ): Promise<(string | VideoView)[] | undefined> {
    const ids = await this.authorIndex.ids(authorId, limit, idBefore);
    if (ids === undefined) return undefined;
    return this.cache.pageEntriesOf(
      ids,
      (missing, primary) => this.videos.viewsByIds(missing, primary),
      (gone) => this.authorIndex.remove(authorId, gone),
    );
  }

  /** Cached (SPEC §5); 404 for an unknown id. */
  async getDetail(id: number): Promise<VideoView> {
    const entry = await this.detailEntry(id);
    return typeof entry === 'string' ? (JSON.parse(entry) as VideoView) : entry;
  }

  /** {@link getDetail}'s answer as JSON text (the fast read sends a cache hit's text unparsed). */
  async getDetailJson(id: number): Promise<string> {
    const entry = await this.detailEntry(id);
    return typeof entry === 'string' ? entry : JSON.stringify(entry);
  }

  /** The cached entry's text, or the view; 404 when there is no such video. */
  private async detailEntry(id: number): Promise<string | VideoView> {
    // A fill may come from a replica; right after a change the cache has it read the primary.
    const entry = await this.cache.getText(id, async () => (await this.videos.viewsByIds([id]))[0] ?? null);
    if (!entry) throw VideoErrors.notFound();
    // An entry cached by a build from before tags existed lacks the field (for its TTL at most): getText adds it.
    return entry;
  }

  /** 404, 403 not the author; removes the video with its likes, comments and tags in one transaction. */
  async delete(accountId: number, id: number): Promise<void> {
    const ref = await this.db.transaction(async (manager): Promise<VideoRef> => {
      const video = await this.videos.lockById(manager, id);
      if (!video) throw VideoErrors.notFound();
      if (video.authorId !== accountId) throw VideoErrors.notAuthor();
      await this.deleteHooks.run(manager, id);
      await this.videos.delete(manager, id);
      return { id, authorId: video.authorId, createTime: video.createTime, tags: decodeTags(video.tags) };
    });
    await this.cache.invalidate(id);
    await this.authorIndex.remove(ref.authorId, [id]);
    await this.deleteHooks.runAfterCommit([ref], (err) =>
      this.logger.error(`after-delete hook failed for video ${id}: ${String(err)}`),
    );
    this.logger.debug(`video ${id} deleted by ${accountId}`);
  }
}
