import { createAccount, createAccounts, TestAccount } from '../factories/accounts';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UNKNOWN = 987_654_321;

interface Message {
  id: number;
  from_id: number;
  to_id: number;
  content: string;
  is_read: boolean;
  created_at: string;
}

interface Conversation {
  peer: { id: number; username: string; avatar_url: string; bio: string };
  last_message: Message;
  unread_count: number;
}

jest.setTimeout(60_000);

describe.each(PROFILES)('direct messages (%s)', (profile) => {
  let t: TestApp;
  let alice: TestAccount;
  let bob: TestAccount;

  beforeAll(async () => {
    t = await startApp(profile);
    alice = await createAccount(t, 'alice');
    bob = await createAccount(t, 'bob');
  });
  afterAll(async () => {
    await t?.close();
  });

  const call = (route: string, who: TestAccount | null, body: unknown, auth?: string) => {
    const req = t.http.post(`/message/${route}`);
    const header = auth ?? who?.auth;
    if (header) void req.set('Authorization', header);
    return req.send(body as object);
  };
  const send = async (from: TestAccount, to: TestAccount, content = 'hi'): Promise<Message> =>
    (await call('send', from, { to_id: to.id, content }).expect(200)).body as Message;
  const conversations = async (who: TestAccount, body: Record<string, unknown> = {}) =>
    (await call('conversations', who, body).expect(200)).body as {
      conversations: Conversation[];
      next_id_before: number;
      has_more: boolean;
    };
  const list = async (who: TestAccount, peer: TestAccount, body: Record<string, unknown> = {}) =>
    (await call('list', who, { peer_id: peer.id, ...body }).expect(200)).body as {
      messages: Message[];
      next_id_before: number;
      has_more: boolean;
    };

  /** Walks an id_before-paged list to its end; fails on a repeat, a non-200 or an empty page with more. */
  async function walkIds(
    route: string,
    who: TestAccount,
    first: Record<string, unknown>,
    items: (body: Record<string, unknown>) => number[],
  ): Promise<{ ids: number[]; pages: number }> {
    const ids: number[] = [];
    let body = first;
    for (let pages = 1; pages <= 500; pages++) {
      const res = await call(route, who, body).expect(200);
      const page = items(res.body as Record<string, unknown>);
      ids.push(...page);
      if (!res.body.has_more) return { ids, pages };
      expect(page.length).toBeGreaterThan(0);
      expect(res.body.next_id_before).toBe(page[page.length - 1]);
      body = { ...first, id_before: res.body.next_id_before };
    }
    throw new Error('walk did not end');
  }

  it('send returns the Message (trimmed, unread); both sides see it in list and conversations', async () => {
    const [a, b] = await createAccounts(t, 2, 'pair');
    const res = await call('send', a, { to_id: b.id, content: '  hello there  ' }).expect(200);
    expect(res.body).toEqual({
      id: expect.any(Number),
      from_id: a.id,
      to_id: b.id,
      content: 'hello there',
      is_read: false,
      created_at: expect.stringMatching(ISO_MS),
    });
    expect(await list(a, b)).toEqual({ messages: [res.body], next_id_before: res.body.id, has_more: false });
    expect(await list(b, a)).toEqual({ messages: [res.body], next_id_before: res.body.id, has_more: false });
    expect(await conversations(b)).toEqual({
      conversations: [
        {
          peer: { id: a.id, username: a.username, avatar_url: '', bio: '' },
          last_message: res.body,
          unread_count: 1,
        },
      ],
      next_id_before: res.body.id,
      has_more: false,
    });
    expect((await conversations(a)).conversations).toEqual([
      {
        peer: { id: b.id, username: b.username, avatar_url: '', bio: '' },
        last_message: res.body,
        unread_count: 0,
      },
    ]);
    await call('send', a, { to_id: b.id, content: '😀'.repeat(2000) }).expect(200);
    expect(await conversations(a)).toMatchObject({
      conversations: [{ last_message: { content: '😀'.repeat(2000) } }],
    });
    expect(await conversations(await createAccount(t, 'lonely'))).toEqual({
      conversations: [],
      next_id_before: 0,
      has_more: false,
    });
  });

  it.each([1, 7, 10, 50])(
    'list: both directions, newest first, every message once by id_before (limit %i)',
    async (limit) => {
      const [a, b, c] = await createAccounts(t, 3, 'walk');
      const sent: number[] = [];
      for (let i = 0; i < 23; i++) {
        sent.push((await send(i % 3 === 0 ? b : a, i % 3 === 0 ? a : b, `m${i}`)).id);
        if (i % 5 === 0) await send(a, c, 'elsewhere'); // another conversation, interleaved
      }
      const expected = [...sent].reverse();
      for (const [who, peer] of [
        [a, b],
        [b, a],
      ] as const) {
        const { ids, pages } = await walkIds('list', who, { peer_id: peer.id, limit }, (p) =>
          (p.messages as Message[]).map((m) => m.id),
        );
        expect(ids).toEqual(expected);
        expect(pages).toBe(Math.ceil(expected.length / limit));
      }
      const empty = await list(a, b, { id_before: Math.min(...sent), limit });
      expect(empty).toEqual({ messages: [], next_id_before: Math.min(...sent), has_more: false });
    },
  );

  it('list: limit absent/0 = 50, above 200 clamped to 200', async () => {
    const [a, b] = await createAccounts(t, 2, 'many');
    const ts = Date.now();
    const rows = Array.from({ length: 210 }, (_, i) => [
      i % 2 ? a.id : b.id,
      i % 2 ? b.id : a.id,
      Math.min(a.id, b.id),
      Math.max(a.id, b.id),
      `bulk ${i}`,
      ts,
    ]);
    await t.sql(
      `INSERT INTO messages (from_id, to_id, pair_low_id, pair_high_id, content, create_time) VALUES ${rows
        .map(() => '(?, ?, ?, ?, ?, ?)')
        .join(', ')}`,
      rows.flat(),
    );
    expect((await list(a, b)).messages).toHaveLength(50);
    expect((await list(a, b, { limit: 0 })).messages).toHaveLength(50);
    const all = await list(a, b, { limit: 500 });
    expect(all.messages).toHaveLength(200);
    expect(all.has_more).toBe(true);
  });

  it('unread counts and is_read: markRead marks what the peer sent so far, both sides see it', async () => {
    const [a, b, c] = await createAccounts(t, 3, 'read');
    const m1 = await send(b, a, 'one');
    const m2 = await send(b, a, 'two');
    const mine = await send(a, b, 'reply');
    await send(c, a, 'from c');
    const unread = async (who: TestAccount) =>
      Object.fromEntries((await conversations(who)).conversations.map((x) => [x.peer.id, x.unread_count]));
    expect(await unread(a)).toEqual({ [b.id]: 2, [c.id]: 1 });
    expect(await unread(b)).toEqual({ [a.id]: 1 });
    expect((await list(a, b)).messages.map((m) => [m.id, m.is_read])).toEqual([
      [mine.id, false],
      [m2.id, false],
      [m1.id, false],
    ]);

    expect((await call('markRead', a, { peer_id: b.id }).expect(200)).body).toEqual({
      message: expect.any(String),
    });
    expect(await unread(a)).toEqual({ [b.id]: 0, [c.id]: 1 });
    expect(await unread(b)).toEqual({ [a.id]: 1 }); // a's reply is still unread by b
    for (const who of [a, b]) {
      const other = who === a ? b : a;
      expect((await list(who, other)).messages.map((m) => [m.id, m.is_read])).toEqual([
        [mine.id, false],
        [m2.id, true],
        [m1.id, true],
      ]);
    }
    const [conv] = (await conversations(b)).conversations;
    expect(conv.last_message).toEqual({ ...mine, is_read: false });

    const m3 = await send(b, a, 'three');
    expect(await unread(a)).toEqual({ [b.id]: 1, [c.id]: 1 });
    expect((await list(a, b, { limit: 2 })).messages.map((m) => [m.id, m.is_read])).toEqual([
      [m3.id, false],
      [mine.id, false],
    ]);
    await call('markRead', b, { peer_id: a.id }).expect(200);
    expect((await conversations(a)).conversations.find((x) => x.peer.id === b.id)?.last_message).toEqual({
      ...m3,
      is_read: false,
    });
    expect((await list(a, b, { limit: 2 })).messages.map((m) => [m.id, m.is_read])).toEqual([
      [m3.id, false],
      [mine.id, true],
    ]);
    // markRead with no conversation yet, or nothing unread, is a 200 that changes nothing.
    await call('markRead', c, { peer_id: b.id }).expect(200);
    await call('markRead', a, { peer_id: c.id }).expect(200);
    await call('markRead', a, { peer_id: c.id }).expect(200);
    expect(await unread(a)).toEqual({ [b.id]: 1, [c.id]: 0 });
  });

  it('conversations: newest last message first, every conversation once by id_before, at limits 1/2/5/50', async () => {
    const hub = await createAccount(t, 'hub');
    const peers = await createAccounts(t, 9, 'peer');
    const last = new Map<number, number>();
    const unread = new Map<number, number>();
    for (let round = 0; round < 3; round++) {
      for (const [i, p] of peers.entries()) {
        if ((i + round) % 3 === 0) continue;
        const incoming = (i + round) % 2 === 0;
        const m = incoming ? await send(p, hub) : await send(hub, p);
        last.set(p.id, m.id);
        if (incoming) unread.set(p.id, (unread.get(p.id) ?? 0) + 1);
      }
    }
    const expected = [...last.entries()].sort((x, y) => y[1] - x[1]).map(([, id]) => id);
    for (const limit of [1, 2, 5, 50]) {
      const { ids, pages } = await walkIds('conversations', hub, { limit }, (p) =>
        (p.conversations as Conversation[]).map((c) => c.last_message.id),
      );
      expect(ids).toEqual(expected);
      expect(pages).toBe(Math.ceil(expected.length / limit));
    }
    const all = (await conversations(hub, { limit: 50 })).conversations;
    for (const c of all) expect(c.unread_count).toBe(unread.get(c.peer.id) ?? 0);
    // A new message moves its conversation to the front.
    const oldest = all[all.length - 1].peer;
    const m = await send(
      peers.find((p) => p.id === oldest.id)!,
      hub,
      'back on top',
    );
    const top = (await conversations(hub, { limit: 1 })).conversations[0];
    expect(top).toMatchObject({ peer: { id: oldest.id }, last_message: { id: m.id } });
  });

  it('concurrent sends both ways and markReads, on four new pairs at once, all succeed and keep unread counts equal to the unread messages', async () => {
    // Four pairs, each with its first message racing: the pair's rows are created and locked
    // concurrently (this once deadlocked into a 503, see MessageRepository.lockPair).
    const accounts = await createAccounts(t, 8, 'race');
    const pairs = [0, 2, 4, 6].map((k) => [accounts[k], accounts[k + 1]] as const);
    const ops = pairs.flatMap(([a, b]) =>
      Array.from({ length: 40 }, (_, i) => {
        if (i % 8 === 3) return call('markRead', a, { peer_id: b.id });
        if (i % 8 === 7) return call('markRead', b, { peer_id: a.id });
        return i % 2
          ? call('send', a, { to_id: b.id, content: `a${i}` })
          : call('send', b, { to_id: a.id, content: `b${i}` });
      }),
    );
    const statuses = (await Promise.all(ops)).map((r) => r.status);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    for (const [a, b] of pairs) {
      const messages = (await list(a, b, { limit: 200 })).messages;
      expect(messages).toHaveLength(30);
      for (const who of [a, b]) {
        const [conv] = (await conversations(who)).conversations;
        expect(conv.last_message.id).toBe(messages[0].id);
        const unreadIncoming = messages.filter((m) => m.to_id === who.id && !m.is_read).length;
        expect(conv.unread_count).toBe(unreadIncoming);
        // Read state is a prefix: nothing unread is older than something read.
        const incoming = messages.filter((m) => m.to_id === who.id).map((m) => m.is_read);
        expect(incoming).toEqual([...incoming].sort((x, y) => Number(x) - Number(y)));
      }
    }
  });

  it('Idempotency-Key: sequential and concurrent retries send one message and return the first response', async () => {
    const [a, b] = await createAccounts(t, 2, 'idem');
    const first = await call('send', a, { to_id: b.id, content: 'once' })
      .set('Idempotency-Key', 'msg-1')
      .expect(200);
    const again = await call('send', a, { to_id: b.id, content: 'twice' })
      .set('Idempotency-Key', 'msg-1')
      .expect(200);
    expect(again.body).toEqual(first.body);
    const burst = await Promise.all(
      Array.from({ length: 8 }, () =>
        call('send', a, { to_id: b.id, content: 'burst' }).set('Idempotency-Key', 'msg-burst'),
      ),
    );
    for (const r of burst) expect(r.status).toBe(200);
    expect(new Set(burst.map((r) => r.body.id)).size).toBe(1);
    // Another account's identical key is its own.
    const other = await call('send', b, { to_id: a.id, content: 'mine' })
      .set('Idempotency-Key', 'msg-1')
      .expect(200);
    expect(other.body.id).not.toBe(first.body.id);
    expect((await list(a, b)).messages).toHaveLength(3);
    expect((await conversations(b)).conversations[0].unread_count).toBe(2);
    for (const key of ['', 'x'.repeat(129), 'clé']) {
      expectError(
        await call('send', a, { to_id: b.id, content: 'x' }).set('Idempotency-Key', key),
        400,
        'VALIDATION_FAILED',
      );
    }
  });

  it('send: 400 bad body or to oneself, 404 unknown recipient, 401 — and 400 before 401', async () => {
    const bad: unknown[] = [
      {},
      { to_id: bob.id },
      { content: 'x' },
      { to_id: 0, content: 'x' },
      { to_id: -1, content: 'x' },
      { to_id: 1.5, content: 'x' },
      { to_id: String(bob.id), content: 'x' },
      { to_id: 2 ** 53, content: 'x' },
      { to_id: bob.id, content: '' },
      { to_id: bob.id, content: '   ' },
      { to_id: bob.id, content: 'x'.repeat(2001) },
      { to_id: bob.id, content: 5 },
      { to_id: bob.id, content: ['x'] },
    ];
    for (const body of bad) {
      expectError(await call('send', alice, body), 400, 'VALIDATION_FAILED');
      expectError(await call('send', null, body), 400, 'VALIDATION_FAILED');
    }
    expectError(
      await t.http.post('/message/send').set('Authorization', alice.auth).send([1]),
      400,
      'VALIDATION_FAILED',
    );
    const self = expectError(
      await call('send', alice, { to_id: alice.id, content: 'me' }),
      400,
      'VALIDATION_FAILED',
    );
    expect(self.details).toEqual([{ field: 'to_id', message: 'to_id cannot be yourself' }]);
    expectError(
      await call('send', alice, { to_id: UNKNOWN, content: 'x' }),
      404,
      'NOT_FOUND',
      'account not found',
    );
    expectError(await call('send', null, { to_id: bob.id, content: 'x' }), 401, 'UNAUTHENTICATED');
    expectError(
      await call('send', null, { to_id: bob.id, content: 'x' }, 'Bearer nope'),
      401,
      'UNAUTHENTICATED',
    );
    const rows = await t.sql<{ n: number }>(
      'SELECT COUNT(*) AS n FROM messages WHERE from_id = ? OR to_id = ?',
      [alice.id, alice.id],
    );
    expect(Number(rows[0].n)).toBe(0); // nothing was written by any of these
  });

  it('list / conversations / markRead: 400, 404 unknown peer, 401', async () => {
    for (const route of ['list', 'markRead']) {
      for (const body of [{}, { peer_id: 0 }, { peer_id: 'x' }, { peer_id: -3 }]) {
        expectError(await call(route, alice, body), 400, 'VALIDATION_FAILED');
        expectError(await call(route, null, body), 400, 'VALIDATION_FAILED');
      }
      const self = expectError(await call(route, alice, { peer_id: alice.id }), 400, 'VALIDATION_FAILED');
      expect(self.details?.[0].field).toBe('peer_id');
      expectError(await call(route, alice, { peer_id: UNKNOWN }), 404, 'NOT_FOUND', 'account not found');
      expectError(await call(route, null, { peer_id: bob.id }), 401, 'UNAUTHENTICATED');
      expectError(await call(route, null, { peer_id: bob.id }, 'Bearer nope'), 401, 'UNAUTHENTICATED');
    }
    for (const body of [
      { peer_id: bob.id, limit: -1 },
      { peer_id: bob.id, limit: 2.5 },
      { peer_id: bob.id, id_before: -1 },
      { peer_id: bob.id, id_before: '9' },
    ]) {
      expectError(await call('list', alice, body), 400, 'VALIDATION_FAILED');
    }
    for (const body of [{ limit: -1 }, { limit: '5' }, { id_before: 1.5 }, { id_before: -1 }]) {
      expectError(await call('conversations', alice, body), 400, 'VALIDATION_FAILED');
      expectError(await call('conversations', null, body), 400, 'VALIDATION_FAILED');
    }
    expectError(await call('conversations', null, {}), 401, 'UNAUTHENTICATED');
    expectError(await call('conversations', null, {}, 'Basic abc'), 401, 'UNAUTHENTICATED');
    // Under /api too.
    await t.http.post('/api/message/conversations').set('Authorization', alice.auth).send({}).expect(200);
  });
});

describe.each(PROFILES)('direct messages rate limit (%s)', (profile) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp(profile, { env: { RATE_LIMITS: 'message=3/60' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('send over the limit → 429 with Retry-After, per account, 400 still first, nothing written', async () => {
    const [a, b, c] = await createAccounts(t, 3, 'rl');
    const send = (who: TestAccount, body: object) =>
      t.http.post('/message/send').set('Authorization', who.auth).send(body);
    for (let i = 0; i < 3; i++) await send(a, { to_id: b.id, content: `m${i}` }).expect(200);
    const limited = await send(a, { to_id: b.id, content: 'one too many' });
    expectError(limited, 429, 'RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expectError(await send(a, { to_id: b.id, content: '' }), 400, 'VALIDATION_FAILED');
    // Per account: another sender is not limited; nothing was written by the 429.
    await send(c, { to_id: b.id, content: 'hello' }).expect(200);
    const page = await t.http
      .post('/message/list')
      .set('Authorization', a.auth)
      .send({ peer_id: b.id })
      .expect(200);
    expect(page.body.messages).toHaveLength(3);
    expect(t.config.rateLimits.message).toEqual({ limit: 3, windowSeconds: 60 });
  });
});
