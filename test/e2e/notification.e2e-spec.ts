import { Database } from '@app/core';
import { createAccount, createAccounts, TestAccount } from '../factories/accounts';
import { publishComment, publishVideo } from '../factories/videos';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';

/**
 * SPEC §8.4 notifications on each profile (no broker: the handlers run in the write's own
 * transaction, so a notification exists when the write answers): who is notified of what, the
 * once-per-(actor, target) rule, and list / unreadCount / markRead with every error status.
 */
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UNKNOWN = 987_654_321;

interface Notification {
  id: number;
  type: 'like' | 'comment' | 'follow' | 'mention';
  actor: { id: number; username: string; avatar_url: string; bio: string };
  video_id: number;
  comment_id: number;
  content: string;
  is_read: boolean;
  created_at: string;
}
interface Page {
  notifications: Notification[];
  next_id_before: number;
  has_more: boolean;
}

jest.setTimeout(120_000);

/** Counts the statements selecting from `videos` that go through TypeORM's query runner (every statement of a transaction). */
function countVideoSelects(t: TestApp): { count: () => number; restore: () => void } {
  const qr = t.app.get(Database).dataSource.createQueryRunner();
  const proto = Object.getPrototypeOf(qr) as { query: (...args: unknown[]) => Promise<unknown> };
  void qr.release();
  let n = 0;
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const sql = String(args[0]);
    if (/^\s*SELECT/i.test(sql) && /FROM [`"]?videos[`"]?/i.test(sql)) n++;
    return original.apply(this, args);
  };
  return { count: () => n, restore: () => void (proto.query = original) };
}

describe.each(PROFILES)('notifications (%s)', (profile) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp(profile);
  });
  afterAll(async () => {
    await t?.close();
  });

  const call = (route: string, who: TestAccount | null, body?: unknown, auth?: string) => {
    const req = t.http.post(route);
    const header = auth ?? who?.auth;
    if (header) void req.set('Authorization', header);
    return body === undefined ? req : req.send(body as object);
  };
  const list = async (who: TestAccount, body: Record<string, unknown> = {}): Promise<Page> =>
    (await call('/notification/list', who, body).expect(200)).body as Page;
  const all = async (who: TestAccount): Promise<Notification[]> =>
    (await list(who, { limit: 200 })).notifications;
  const unread = async (who: TestAccount): Promise<number> =>
    ((await call('/notification/unreadCount', who, {}).expect(200)).body as { count: number }).count;
  const like = (who: TestAccount, videoId: number, route = '/like/like') =>
    call(route, who, { video_id: videoId }).expect(200);
  const follow = (who: TestAccount, vloggerId: number, route = '/social/follow') =>
    call(route, who, { vlogger_id: vloggerId }).expect(200);
  const summary = (ns: Notification[]) =>
    ns.map((n) => ({ type: n.type, actor: n.actor.id, video_id: n.video_id, comment_id: n.comment_id }));

  describe('who is notified of what', () => {
    let alice: TestAccount;
    let bob: TestAccount;
    let carol: TestAccount;

    beforeAll(async () => {
      [alice, bob, carol] = await createAccounts(t, 3, 'nt');
    });

    it('a like notifies the author once per (actor, video): unlike and like again add nothing', async () => {
      const v = await publishVideo(t, alice);
      await like(bob, v.id);
      await like(bob, v.id, '/like/unlike');
      await like(bob, v.id);
      await like(carol, v.id);
      const ns = (await all(alice)).filter((n) => n.video_id === v.id);
      expect(summary(ns)).toEqual([
        { type: 'like', actor: carol.id, video_id: v.id, comment_id: 0 },
        { type: 'like', actor: bob.id, video_id: v.id, comment_id: 0 },
      ]);
      expect(ns[1]).toEqual({
        id: expect.any(Number),
        type: 'like',
        actor: { id: bob.id, username: bob.username, avatar_url: '', bio: '' },
        video_id: v.id,
        comment_id: 0,
        content: '',
        is_read: false,
        created_at: expect.stringMatching(ISO_MS),
      });
    });

    it("a like's and a comment's notification take the author their own locked read of the video found: one select of videos each", async () => {
      const v = await publishVideo(t, alice);
      const reads = countVideoSelects(t);
      try {
        await like(carol, v.id);
        expect(reads.count()).toBe(1);
        await publishComment(t, carol, v.id, 'once');
        expect(reads.count()).toBe(2);
      } finally {
        reads.restore();
      }
      const ns = (await all(alice)).filter((n) => n.video_id === v.id && n.actor.id === carol.id);
      expect(summary(ns)).toEqual([
        { type: 'comment', actor: carol.id, video_id: v.id, comment_id: expect.any(Number) },
        { type: 'like', actor: carol.id, video_id: v.id, comment_id: 0 },
      ]);
    });

    it('a follow notifies once per (follower, vlogger): unfollow and follow again add nothing', async () => {
      const [x, y] = await createAccounts(t, 2, 'fo');
      await follow(x, y.id);
      await follow(x, y.id, '/social/unfollow');
      await follow(x, y.id);
      expect(summary(await all(y))).toEqual([{ type: 'follow', actor: x.id, video_id: 0, comment_id: 0 }]);
      expect(await all(x)).toEqual([]);
    });

    it("every comment notifies the video's author, with the comment's first 100 characters", async () => {
      const v = await publishVideo(t, alice);
      const long = `${'é'.repeat(60)}${'😀'.repeat(50)}`; // 110 code points, some outside the BMP
      const c1 = await publishComment(t, bob, v.id, long);
      const c2 = await publishComment(t, bob, v.id, 'again');
      const ns = (await all(alice)).filter((n) => n.video_id === v.id);
      expect(summary(ns)).toEqual([
        { type: 'comment', actor: bob.id, video_id: v.id, comment_id: c2.id },
        { type: 'comment', actor: bob.id, video_id: v.id, comment_id: c1.id },
      ]);
      expect(ns[1].content).toBe(`${'é'.repeat(60)}${'😀'.repeat(40)}`);
      expect(ns[0].content).toBe('again');
    });

    it('an @mention notifies the named account once per (actor, video), case and width folded', async () => {
      const v = await publishVideo(t, alice);
      const wide = carol.username
        .toUpperCase()
        .replace(/[A-Z0-9]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0));
      const c1 = await publishComment(t, bob, v.id, `look @${wide}, and mail ${carol.username}@example.com`);
      await publishComment(t, bob, v.id, `@${carol.username} again`);
      const v2 = await publishVideo(t, alice);
      const c3 = await publishComment(t, bob, v2.id, `@${carol.username}.`);
      const mine = (await all(carol)).filter((n) => n.video_id === v.id || n.video_id === v2.id);
      expect(summary(mine)).toEqual([
        { type: 'mention', actor: bob.id, video_id: v2.id, comment_id: c3.id },
        { type: 'mention', actor: bob.id, video_id: v.id, comment_id: c1.id },
      ]);
      expect(mine[1].content).toBe(`look @${wide}, and mail ${carol.username}@example.com`);
    });

    it('nobody is notified of their own like, comment or mention; the author is not also sent mention', async () => {
      const v = await publishVideo(t, alice);
      await like(alice, v.id);
      await publishComment(t, alice, v.id, `me @${alice.username}`);
      const c = await publishComment(t, bob, v.id, `@${alice.username} @${bob.username} @nobody_${UNKNOWN}`);
      expect(summary((await all(alice)).filter((n) => n.video_id === v.id))).toEqual([
        { type: 'comment', actor: bob.id, video_id: v.id, comment_id: c.id },
      ]);
      expect((await all(bob)).filter((n) => n.video_id === v.id)).toEqual([]);
    });

    it('at most 10 accounts per comment: unknown names, the author and the commenter do not use up the limit', async () => {
      const v = await publishVideo(t, alice);
      const named = await createAccounts(t, 11, 'mx');
      const ghosts = Array.from({ length: 6 }, (_, i) => `@ghost${i}_${UNKNOWN}`);
      const text = [
        `@${alice.username}`,
        `@${bob.username}`,
        ...ghosts,
        ...named.map((a) => `@${a.username}`),
      ];
      const c = await publishComment(t, bob, v.id, text.join(' '));
      const rows = await t.sql<{ recipient_id: number | string }>(
        "SELECT recipient_id FROM notifications WHERE type = 'mention' AND comment_id = ? ORDER BY recipient_id",
        [c.id],
      );
      expect(rows.map((r) => Number(r.recipient_id))).toEqual(named.slice(0, 10).map((a) => a.id));
      expect(summary((await all(alice)).filter((n) => n.video_id === v.id))).toEqual([
        { type: 'comment', actor: bob.id, video_id: v.id, comment_id: c.id },
      ]);
    });

    it('a deleted comment takes its comment and mention notifications along; a deleted video all of its', async () => {
      const v = await publishVideo(t, alice);
      const c = await publishComment(t, bob, v.id, `hey @${carol.username}`);
      await like(bob, v.id);
      expect((await all(carol)).some((n) => n.comment_id === c.id)).toBe(true);
      await call('/comment/delete', bob, { comment_id: c.id }).expect(200);
      expect((await all(carol)).some((n) => n.comment_id === c.id)).toBe(false);
      expect(summary((await all(alice)).filter((n) => n.video_id === v.id))).toEqual([
        { type: 'like', actor: bob.id, video_id: v.id, comment_id: 0 },
      ]);
      await call('/video/delete', alice, { id: v.id }).expect(200);
      expect((await all(alice)).filter((n) => n.video_id === v.id)).toEqual([]);
    });
  });

  describe('list', () => {
    let owner: TestAccount;
    let fan: TestAccount;
    let ids: number[];

    beforeAll(async () => {
      [owner, fan] = await createAccounts(t, 2, 'nl');
      const v = await publishVideo(t, owner);
      for (let i = 0; i < 205; i++) await publishComment(t, fan, v.id, `c${i}`);
      ids = (
        await t.sql<{ id: number }>('SELECT id FROM notifications WHERE recipient_id = ? ORDER BY id DESC', [
          owner.id,
        ])
      ).map((r) => Number(r.id));
      expect(ids).toHaveLength(205);
    });

    it('newest first, default 50, clamped to 200, paged by id_before with an exact has_more', async () => {
      const first = await list(owner);
      expect(first.notifications.map((n) => n.id)).toEqual(ids.slice(0, 50));
      expect(first).toMatchObject({ next_id_before: ids[49], has_more: true });
      expect((await list(owner, { limit: 0 })).notifications).toHaveLength(50);
      const big = await list(owner, { limit: 1000 });
      expect(big.notifications.map((n) => n.id)).toEqual(ids.slice(0, 200));
      const rest = await list(owner, { limit: 200, id_before: big.next_id_before });
      expect(rest.notifications.map((n) => n.id)).toEqual(ids.slice(200));
      expect(rest).toMatchObject({ next_id_before: ids[204], has_more: false });
      const exact = await list(owner, { limit: 5, id_before: ids[199] });
      expect(exact).toMatchObject({ has_more: false, next_id_before: ids[204] });
      const empty = await list(owner, { id_before: ids[204] });
      expect(empty).toEqual({ notifications: [], next_id_before: ids[204], has_more: false });
      expect(await list(fan)).toEqual({ notifications: [], next_id_before: 0, has_more: false });
    });

    it('400 for a bad limit, id_before or body, before 401', async () => {
      for (const body of [
        { limit: -1 },
        { limit: 1.5 },
        { limit: '5' },
        { id_before: -1 },
        { id_before: 'x' },
      ]) {
        expectError(await call('/notification/list', owner, body), 400, 'VALIDATION_FAILED');
        expectError(await call('/notification/list', null, body), 400, 'VALIDATION_FAILED');
      }
      const arr = await t.http.post('/notification/list').set('Content-Type', 'application/json').send('[]');
      expectError(arr, 400, 'VALIDATION_FAILED');
    });
  });

  describe('unreadCount and markRead', () => {
    let owner: TestAccount;
    let fan: TestAccount;
    let other: TestAccount;

    beforeAll(async () => {
      [owner, fan, other] = await createAccounts(t, 3, 'nm');
      const v = await publishVideo(t, owner);
      await like(fan, v.id);
      await publishComment(t, fan, v.id, 'one');
      await follow(fan, owner.id);
      const w = await publishVideo(t, other);
      await like(fan, w.id);
    });

    it('counts unread; markRead of one marks it (again: still 200); all without an id, even with no body', async () => {
      expect(await unread(owner)).toBe(3);
      const [newest, , oldest] = (await list(owner)).notifications;
      expect((await call('/notification/markRead', owner, { id: oldest.id }).expect(200)).body).toEqual({
        message: 'notification marked read',
      });
      await call('/notification/markRead', owner, { id: oldest.id }).expect(200);
      expect(await unread(owner)).toBe(2);
      const after = (await list(owner)).notifications;
      expect(after.map((n) => n.is_read)).toEqual([false, false, true]);
      expect(after[0].id).toBe(newest.id);
      // No body at all, and no content type: allowed (SPEC §8.4).
      const res = await call('/notification/markRead', owner).expect(200);
      expect(res.body).toEqual({ message: 'all notifications marked read' });
      expect(await unread(owner)).toBe(0);
      expect((await list(owner)).notifications.every((n) => n.is_read)).toBe(true);
      expect(await unread(other)).toBe(1);
      await call('/notification/markRead', other, {}).expect(200);
      expect(await unread(other)).toBe(0);
      // An empty body sent as JSON, and an id of null, are "absent" too: all of them.
      await t.sql('UPDATE notifications SET is_read = 0 WHERE recipient_id IN (?, ?)', [owner.id, other.id]);
      const empty = await t.http
        .post('/notification/markRead')
        .set('Authorization', owner.auth)
        .set('Content-Type', 'application/json')
        .send('');
      expect(empty.status).toBe(200);
      expect(empty.body).toEqual({ message: 'all notifications marked read' });
      expect(await unread(owner)).toBe(0);
      expect((await call('/notification/markRead', other, { id: null }).expect(200)).body).toEqual({
        message: 'all notifications marked read',
      });
      expect(await unread(other)).toBe(0);
    });

    it("404 for another account's notification or an unknown id, nothing marked", async () => {
      const ownerN = (await list(owner)).notifications[0];
      await t.sql('UPDATE notifications SET is_read = 0 WHERE id = ?', [ownerN.id]);
      expectError(
        await call('/notification/markRead', fan, { id: ownerN.id }),
        404,
        'NOT_FOUND',
        'notification not found',
      );
      expectError(await call('/notification/markRead', fan, { id: UNKNOWN }), 404, 'NOT_FOUND');
      expect(await unread(owner)).toBe(1);
    });

    it('400 for a bad id or body (before 401)', async () => {
      for (const body of [{ id: 0 }, { id: -1 }, { id: 1.5 }, { id: '1' }, { id: 2 ** 53 }]) {
        expectError(await call('/notification/markRead', owner, body), 400, 'VALIDATION_FAILED');
        expectError(await call('/notification/markRead', null, body), 400, 'VALIDATION_FAILED');
      }
      const text = await t.http
        .post('/notification/markRead')
        .set('Authorization', owner.auth)
        .set('Origin', 'https://elsewhere.example')
        .set('Content-Type', 'text/plain')
        .send('{"id":1}');
      expectError(text, 415, 'UNSUPPORTED_MEDIA_TYPE');
      // Without an Origin (not a browser), text/plain is read as JSON: this one is not JSON.
      const notJson = await t.http
        .post('/notification/markRead')
        .set('Authorization', owner.auth)
        .set('Content-Type', 'text/plain')
        .send('id=1');
      expectError(notJson, 400, 'VALIDATION_FAILED', 'malformed JSON body');
    });
  });

  describe('authentication (SPEC §2) on every route', () => {
    const routes = ['/notification/list', '/notification/unreadCount', '/notification/markRead'];

    it('401 without a token, with a bad header, a bad token, a revoked token', async () => {
      const x = await createAccount(t, 'na');
      const revoked = x.auth;
      await call('/account/logout', x, {}).expect(200);
      for (const r of routes) {
        expectError(await call(r, null, {}), 401, 'UNAUTHENTICATED', 'missing authorization header');
        expectError(
          await call(r, null, {}, 'Basic abc'),
          401,
          'UNAUTHENTICATED',
          'invalid authorization header',
        );
        expectError(
          await call(r, null, {}, 'Bearer not.a.jwt'),
          401,
          'UNAUTHENTICATED',
          'invalid or expired token',
        );
        expectError(await call(r, null, {}, revoked), 401, 'UNAUTHENTICATED', 'token has been revoked');
      }
    });

    it('the routes and the stream are in the OpenAPI document', async () => {
      const doc = (await t.http.get('/docs/json').expect(200)).body as {
        paths: Record<string, Record<string, unknown>>;
      };
      for (const r of routes) expect(doc.paths[r]?.post).toBeDefined();
      expect(doc.paths['/notification/stream']?.get).toBeDefined();
    });
  });
});
