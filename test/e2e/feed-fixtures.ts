import type Redis from 'ioredis';
import {
  FeedRepository,
  FeedService,
  itemJson,
  LatestIndex,
  TagIndex,
  Timelines,
  type PageRow,
} from '@app/feed';
import { AuthorIndex, encodeTags, LikesCountIndex } from '@app/video';
import type { TestApp } from '../helpers/test-app';

/** The feed items rows show, every field (a SQL row and one made from a cached entry agree on all of them). */
export const shownRows = (rows: PageRow[]): unknown[] => rows.map((r) => JSON.parse(itemJson(r)) as unknown);

/** Waits (up to 15 s) until a Redis key exists, e.g. an index a read started building off its path. */
export async function waitForKey(redis: Redis, k: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await redis.exists(k)) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(await redis.exists(k)).toBe(1);
}

/** A video row as the fixtures insert it. */
export interface FixtureVideo {
  id: number;
  author_id: number;
  create_time: number;
  likes_count: number;
  popularity: number;
}

let seq = 0;

/** Registers and logs in an account through the routes; returns its id and token. */
export async function registerAndLogin(
  t: TestApp,
  prefix = 'viewer',
): Promise<{ id: number; token: string }> {
  const username = `${prefix}${Date.now().toString(36)}${seq++}`;
  const password = 'secret-password';
  await t.http.post('/account/register').send({ username, password }).expect(200);
  const res = await t.http.post('/account/login').send({ username, password }).expect(200);
  return { id: res.body.account_id as number, token: res.body.token as string };
}

/** Inserts `n` accounts directly (feeds are read-only: data comes from SQL); returns their ids. */
export async function insertAccounts(t: TestApp, n: number, prefix = 'author'): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${prefix}${seq++}x${i}`;
    await t.sql(
      `INSERT INTO accounts (username, username_key, password_hash, avatar_url, bio, follower_count, vlogger_count, create_time)
       VALUES (?, ?, 'x', '', '', 0, 0, ?)`,
      [name, name.toLowerCase(), Date.now()],
    );
    const [row] = await t.sql<{ id: number }>('SELECT id FROM accounts WHERE username_key = ?', [
      name.toLowerCase(),
    ]);
    ids.push(Number(row.id));
  }
  return ids;
}

/** Inserts videos in multi-row statements; returns them with their ids. */
export async function insertVideos(t: TestApp, rows: Omit<FixtureVideo, 'id'>[]): Promise<FixtureVideo[]> {
  const [before] = await t.sql<{ m: number | null }>('SELECT MAX(id) AS m FROM videos');
  for (let i = 0; i < rows.length; i += 100) {
    const part = rows.slice(i, i + 100);
    await t.sql(
      `INSERT INTO videos (author_id, username, title, description, play_url, cover_url, create_time, likes_count, comments_count, popularity)
       VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      part.flatMap((r, j) => [
        r.author_id,
        `author${r.author_id}`,
        `video ${i + j}`,
        '',
        'https://cdn.example.com/v.mp4',
        'https://cdn.example.com/c.jpg',
        r.create_time,
        r.likes_count,
        r.popularity - r.likes_count,
        r.popularity,
      ]),
    );
  }
  const inserted = await t.sql<{
    id: number;
    author_id: number;
    create_time: number;
    likes_count: number;
    popularity: number;
  }>('SELECT id, author_id, create_time, likes_count, popularity FROM videos WHERE id > ? ORDER BY id', [
    Number(before.m ?? 0),
  ]);
  // What a publish does after its commit: into the latest and author indexes, if built, and marked
  // for the likes-count index (no-op without Redis).
  await t.app.get(LatestIndex).push(inserted.map((r) => ({ id: Number(r.id), time: Number(r.create_time) })));
  await t.app.get(AuthorIndex).push(
    inserted.map((r) => ({
      id: Number(r.id),
      authorId: Number(r.author_id),
      createTime: Number(r.create_time),
    })),
  );
  await t.app.get(LikesCountIndex).mark(inserted.map((r) => Number(r.id)));
  return inserted.map((r) => ({
    id: Number(r.id),
    author_id: Number(r.author_id),
    create_time: Number(r.create_time),
    likes_count: Number(r.likes_count),
    popularity: Number(r.popularity),
  }));
}

/**
 * Links fixture videos to tags the way publish does: `tags` rows for new names, `video_tags` rows,
 * `videos.tags`, and a push into the tag indexes (if built; no-op without Redis).
 */
export async function tagVideos(
  t: TestApp,
  videos: FixtureVideo[],
  tagsFor: (i: number) => string[],
): Promise<void> {
  const names = [...new Set(videos.flatMap((_, i) => tagsFor(i)))];
  const known = async () =>
    new Map(
      (await t.sql<{ id: number; name: string }>('SELECT id, name FROM tags')).map((r) => [
        r.name,
        Number(r.id),
      ]),
    );
  const before = await known();
  for (const name of names) if (!before.has(name)) await t.sql('INSERT INTO tags (name) VALUES (?)', [name]);
  const ids = await known();
  const rows = videos.flatMap((v, i) => tagsFor(i).map((name) => [v.id, ids.get(name), v.create_time]));
  for (let i = 0; i < rows.length; i += 100) {
    const part = rows.slice(i, i + 100);
    await t.sql(
      `INSERT INTO video_tags (video_id, tag_id, create_time) VALUES ${part.map(() => '(?, ?, ?)').join(', ')}`,
      part.flat(),
    );
  }
  for (const [i, v] of videos.entries()) {
    await t.sql('UPDATE videos SET tags = ? WHERE id = ?', [encodeTags(tagsFor(i)), v.id]);
  }
  await t.app
    .get(TagIndex)
    .push(videos.map((v, i) => ({ id: v.id, createTime: v.create_time, tags: tagsFor(i) })));
}

export async function follow(t: TestApp, followerId: number, vloggerIds: number[]): Promise<void> {
  for (const v of vloggerIds) {
    await t.sql('INSERT INTO socials (follower_id, vlogger_id, create_time) VALUES (?, ?, ?)', [
      followerId,
      v,
      Date.now(),
    ]);
  }
}

export const byTimeDesc = (a: FixtureVideo, b: FixtureVideo): number =>
  b.create_time - a.create_time || b.id - a.id;
export const byLikesDesc = (a: FixtureVideo, b: FixtureVideo): number =>
  b.likes_count - a.likes_count || b.id - a.id;
export const byPopularityDesc = (a: FixtureVideo, b: FixtureVideo): number =>
  b.popularity - a.popularity || b.id - a.id;

interface Page {
  video_list: { id: number }[];
  has_more: boolean;
  [k: string]: unknown;
}

/**
 * Walks a feed page by page, passing each response's cursor fields back, until has_more is false.
 * Fails on a non-200, on an empty page that claimed to have more, or after too many pages.
 */
export async function walk(
  post: (body: Record<string, unknown>) => Promise<{ status: number; body: Page }>,
  first: Record<string, unknown>,
  next: (page: Page) => Record<string, unknown>,
  maxPages = 500,
): Promise<{ ids: number[]; pages: number }> {
  const ids: number[] = [];
  let body = first;
  for (let pages = 1; pages <= maxPages; pages++) {
    const res = await post(body);
    expect(res.status).toBe(200);
    ids.push(...res.body.video_list.map((v) => v.id));
    if (!res.body.has_more) return { ids, pages };
    expect(res.body.video_list.length).toBeGreaterThan(0);
    body = { ...first, ...next(res.body) };
  }
  throw new Error('walk did not end');
}

/**
 * Walks the viewer's following feed from the first page with `limit`: every page `Timelines.page`
 * answers (its timeline, the merge past it, or its deep parts) and every page of the feed service
 * equals the SQL pull item for item. Returns the pages, how many `Timelines.page` answered, and the
 * ids walked.
 */
export async function walkFollowingAgainstSql(
  t: TestApp,
  viewerId: number,
  limit: number,
): Promise<{ pages: number; answered: number; walked: number[] }> {
  const [repo, timelines, feed] = [t.app.get(FeedRepository), t.app.get(Timelines), t.app.get(FeedService)];
  const ids = (rows: PageRow[]): number[] => rows.map((r) => Number(r.id));
  const walked: number[] = [];
  let latestTime = 0;
  let idBefore = 0;
  let pages = 0;
  let answered = 0;
  for (;;) {
    const sql = await repo.following(viewerId, limit + 1, latestTime, idBefore);
    const tl = await timelines.page(viewerId, limit + 1, latestTime, idBefore);
    if (tl !== undefined) {
      expect(ids(tl)).toEqual(ids(sql));
      answered++;
    }
    expect(ids(await feed.followingRows(viewerId, { limit, latestTime, idBefore }))).toEqual(ids(sql));
    walked.push(...ids(sql).slice(0, limit));
    pages++;
    if (sql.length <= limit) return { pages, answered, walked };
    latestTime = Number(sql[limit - 1].create_time);
    idBefore = Number(sql[limit - 1].id);
  }
}

/**
 * The viewer's page of `limit` below `cursor` as `Timelines.page` answers it (its ids; undefined
 * when it leaves the page to SQL), checked item for item against the SQL pull whenever it answers:
 * the read-your-writes tests read the next deep page with it after each write.
 */
export function timelinePageChecked(
  t: TestApp,
  viewerId: number,
  cursor: { latestTime: number; idBefore: number },
  limit = 8,
): () => Promise<number[] | undefined> {
  const [repo, timelines] = [t.app.get(FeedRepository), t.app.get(Timelines)];
  const ids = (rows: PageRow[]): number[] => rows.map((r) => Number(r.id));
  return async () => {
    const rows = await timelines.page(viewerId, limit, cursor.latestTime, cursor.idBefore);
    if (rows !== undefined)
      expect(ids(rows)).toEqual(
        ids(await repo.following(viewerId, limit, cursor.latestTime, cursor.idBefore)),
      );
    return rows && ids(rows);
  };
}

/** A JSON POST with `token` as the bearer. */
export function postAs(t: TestApp, route: string, token: string, body: Record<string, unknown>) {
  return t.http.post(route).set('authorization', `Bearer ${token}`).send(body);
}
