import type { TestApp } from '../helpers/test-app';
import type { TestAccount } from './accounts';

export interface PublishedVideo {
  id: number;
  author_id: number;
  username: string;
  title: string;
  [k: string]: unknown;
}

let seq = 0;

/** Publishes a video through the HTTP route. */
export async function publishVideo(
  t: TestApp,
  author: TestAccount,
  overrides: Record<string, unknown> = {},
): Promise<PublishedVideo> {
  seq += 1;
  const res = await t.http
    .post('/video/publish')
    .set('Authorization', author.auth)
    .send({
      title: `clip ${seq}`,
      description: 'a test clip',
      play_url: `/static/videos/${seq}.mp4`,
      cover_url: `https://cdn.example.com/covers/${seq}.jpg`,
      ...overrides,
    });
  if (res.status !== 200) throw new Error(`publish failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as PublishedVideo;
}

export async function publishComment(
  t: TestApp,
  author: TestAccount,
  videoId: number,
  content = 'nice',
): Promise<{ id: number; [k: string]: unknown }> {
  const res = await t.http
    .post('/comment/publish')
    .set('Authorization', author.auth)
    .send({ video_id: videoId, content });
  if (res.status !== 200) throw new Error(`comment failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: number };
}
