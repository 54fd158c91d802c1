import { startApp, startSibling, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';
import { postAs, registerAndLogin } from './feed-fixtures';

interface Item {
  id: number;
  author: { id: number; username: string };
  likes_count: number;
  comments_count: number;
  is_liked: boolean;
}

/**
 * SPEC §7.5 on every api: the caller's own like, comment, rename, delete and publish show on its
 * next latest page at once, whichever api it reads from: a logged-in viewer's page is a shared page
 * held only while no listed video has changed (the video-list generation, in Redis), not the
 * anonymous page each api keeps a copy of. Two apis on one database and Redis, the reader's pages
 * filled before the write; the reader answers through the fast reads (`a`) and through Nest (`n`).
 * Anonymous pages may trail by the page cache's 5 s (SPEC §5).
 */
if (PROFILES.includes('full')) {
  describe('latest first pages across apis (full)', () => {
    let a: TestApp; // reads, fast reads on
    let n: TestApp; // reads, every request through Nest
    let w: TestApp; // writes
    let author: { id: number; token: string };

    beforeAll(async () => {
      a = await startApp('full');
      n = await startSibling(a, { HTTP_FAST_READS: 'false' });
      w = await startSibling(a, {});
      author = await registerAndLogin(w, 'ryw');
    });
    afterAll(async () => {
      await w?.close();
      await n?.close();
      await a?.close();
    });

    const publish = async (token: string, title: string): Promise<number> => {
      const res = await postAs(w, '/video/publish', token, {
        title,
        play_url: 'https://media.example.com/v.mp4',
        cover_url: 'https://media.example.com/c.jpg',
      }).expect(200);
      return res.body.id as number;
    };
    const firstPage = async (t: TestApp, token?: string): Promise<Item[]> => {
      const req = t.http.post('/feed/listLatest');
      if (token !== undefined) void req.set('authorization', `Bearer ${token}`);
      const res = await req.send({ limit: 10 });
      expect(res.status).toBe(200);
      return res.body.video_list as Item[];
    };
    /** Both readers' copies of the first page, taken now (logged in and anonymous). */
    const fill = async (token: string): Promise<void> => {
      for (const t of [a, n]) {
        await firstPage(t);
        await firstPage(t, token);
      }
    };

    it("a like, a comment, a rename, a delete and a publish through one api show at once on the caller's next page from another", async () => {
      const kept = await publish(author.token, 'kept');
      const gone = await publish(author.token, 'gone');
      await fill(author.token);
      for (const t of [a, n]) {
        const items = await firstPage(t, author.token);
        expect(items.slice(0, 2).map((i) => i.id)).toEqual([gone, kept]);
      }

      await postAs(w, '/like/like', author.token, { video_id: kept }).expect(200);
      await postAs(w, '/comment/publish', author.token, { video_id: kept, content: 'mine' }).expect(200);
      for (const t of [a, n]) {
        const item = (await firstPage(t, author.token)).find((i) => i.id === kept);
        expect(item).toMatchObject({ likes_count: 1, comments_count: 1, is_liked: true });
      }

      const renamed = `ryw${Date.now().toString(36)}x`;
      const res = await postAs(w, '/account/rename', author.token, { new_username: renamed }).expect(200);
      const token = res.body.token as string;
      for (const t of [a, n]) {
        const mine = (await firstPage(t, token)).filter((i) => i.author.id === author.id);
        expect(mine.map((i) => [i.id, i.author.username])).toEqual([
          [gone, renamed],
          [kept, renamed],
        ]);
      }

      await fill(token);
      await postAs(w, '/video/delete', token, { id: gone }).expect(200);
      for (const t of [a, n]) {
        expect((await firstPage(t, token)).map((i) => i.id)).not.toContain(gone);
      }

      await fill(token);
      const added = await publish(token, 'added');
      for (const t of [a, n]) {
        expect((await firstPage(t, token))[0].id).toBe(added);
      }
    });
  });
}
