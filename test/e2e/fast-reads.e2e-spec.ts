import { createAccount, TestAccount } from '../factories/accounts';
import { publishVideo } from '../factories/videos';
import { startApp, startSibling, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';
import { AppValidationPipe } from '../../apps/api/src/http/validation.pipe';

/**
 * The fast reads (apps/api/src/http/fast-reads.ts) against the Nest routes they stand in for: two
 * apis on one database, one with `HTTP_FAST_READS` on and one with it off, get the same requests
 * (every read route × bodies good, odd and bad × no token, a valid one, a revoked one, garbage)
 * and must answer the same status, content type and bytes. The suites of the feeds, tags and
 * getDetail also run whole with the fast reads off (scripts/test-all.js).
 */
describe.each(PROFILES)('fast reads answer as the Nest routes do (%s)', (profile) => {
  let fast: TestApp;
  let nest: TestApp;
  let alice: TestAccount;
  let bob: TestAccount;
  let carol: TestAccount;
  let revoked: TestAccount;
  let ids: number[];
  let asOf: number;

  beforeAll(async () => {
    fast = await startApp(profile, { env: { HTTP_FAST_READS: 'true' } });
    nest = await startSibling(fast, { HTTP_FAST_READS: 'false' });
    [alice, bob, carol, revoked] = [
      await createAccount(fast, 'alice'),
      await createAccount(fast, 'bob'),
      await createAccount(fast, 'carol'),
      await createAccount(fast, 'rev'),
    ];
    ids = [];
    for (let i = 0; i < 6; i++) {
      const author = i % 2 === 0 ? alice : bob;
      ids.push(
        (await publishVideo(fast, author, { title: `clip ${i} #travel${i % 3 === 0 ? ' #food' : ''}` })).id,
      );
    }
    for (const a of [alice, bob]) {
      await fast.http
        .post('/social/follow')
        .set('Authorization', carol.auth)
        .send({ vlogger_id: a.id })
        .expect(200);
    }
    for (const id of [ids[1], ids[4]]) {
      await fast.http.post('/like/like').set('Authorization', carol.auth).send({ video_id: id }).expect(200);
    }
    await fast.http.post('/account/logout').set('Authorization', revoked.auth).send({}).expect(200);
    // Counts are applied after the write (events). Each api has its own caches on the embedded
    // profile, so nothing is read until both likes show in the rows.
    for (let tries = 0; ; tries++) {
      const rows = await fast.sql<{ n: number | string }>(
        'SELECT COUNT(*) AS n FROM videos WHERE likes_count = 1 AND popularity > 0 AND id IN (?, ?)',
        [ids[1], ids[4]],
      );
      if (Number(rows[0].n) === 2) break;
      if (tries > 200) throw new Error('the likes were never counted');
      await new Promise((r) => setTimeout(r, 50));
    }
    const hot = await nest.http.post('/feed/listByPopularity').send({}).expect(200);
    asOf = hot.body.as_of as number;
  });
  afterAll(async () => {
    await nest?.close();
    await fast?.close();
  });

  const TIME_BODIES = (): unknown[] => [
    {},
    { limit: 2 },
    { limit: 2, latest_time: Date.now() + 60_000, id_before: ids[3] },
    { limit: 0, latest_time: 0, extra: 'ignored' },
    { limit: 500 },
    { limit: -1 },
    { limit: 1.5 },
    { limit: '2' },
    { limit: null },
    { latest_time: 'x' },
    { id_before: -4 },
    [],
  ];
  const ROUTES: [string, () => unknown[]][] = [
    ['/feed/listLatest', TIME_BODIES],
    ['/feed/listByFollowing', TIME_BODIES],
    [
      '/feed/listLikesCount',
      () => [
        {},
        { limit: 3 },
        { likes_count_before: 1, id_before: ids[5] },
        { likes_count_before: 0, id_before: 0 },
        { likes_count_before: 1 },
        { id_before: 3 },
        { likes_count_before: -1, id_before: 3 },
        { likes_count_before: null, id_before: null },
      ],
    ],
    [
      '/feed/listByTag',
      () => [
        { tag_name: '#travel' },
        { tag_name: 'FOOD', limit: 1 },
        { tag_name: 'travel', limit: 2, latest_time: Date.now() + 60_000, id_before: ids[2] },
        { tag_name: ' travel ' },
        { tag_name: 'nothing-here' },
        { tag_name: '#' },
        { tag_name: '' },
        { tag_name: 7 },
        { tag_name: 'x'.repeat(201) },
        {},
        { tag_name: 'travel', limit: -2 },
      ],
    ],
    [
      '/feed/listByPopularity',
      () => [
        { as_of: asOf },
        { as_of: asOf, limit: 2, offset: 1 },
        { as_of: asOf, offset: 1000 },
        { as_of: -1 },
        { as_of: asOf, offset: 'x' },
      ],
    ],
    [
      '/video/getDetail',
      () => [
        { id: ids[0] },
        { id: ids[4], extra: 1 },
        { id: 999_999 },
        { id: 0 },
        { id: '1' },
        { id: 1.5 },
        {},
      ],
    ],
    [
      '/video/listByAuthorID',
      () => [
        { author_id: alice.id },
        { author_id: bob.id, limit: 1, id_before: ids[5] },
        { author_id: 999_999 },
        { author_id: 0 },
        { author_id: alice.id, limit: -1 },
        {},
      ],
    ],
  ];
  const AUTHS = (): [string, string | undefined][] => [
    ['anonymous', undefined],
    ['a viewer with likes', carol.auth],
    ['a viewer without likes', bob.auth],
    ['a revoked token', revoked.auth],
    ['garbage', 'Bearer not-a-token'],
    ['another scheme', 'Basic abc'],
    ['a blank header', ' '],
  ];

  async function both(route: string, body: string, auth: string | undefined, type = 'application/json') {
    const send = async (app: TestApp) => {
      const req = app.http.post(route).set('content-type', type);
      if (auth !== undefined) void req.set('authorization', auth);
      const res = await req.send(body);
      return { status: res.status, type: res.headers['content-type'], text: res.text };
    };
    return { fast: await send(fast), nest: await send(nest) };
  }

  it.each(ROUTES.map(([r]) => r))(
    '%s: same status, type and bytes for every body and caller',
    async (route) => {
      const bodies = ROUTES.find(([r]) => r === route)![1]();
      let oks = 0;
      for (const [who, auth] of AUTHS()) {
        for (const body of bodies) {
          const got = await both(route, JSON.stringify(body), auth);
          expect({ who, body, ...got.fast }).toEqual({ who, body, ...got.nest });
          if (got.fast.status === 200) oks++;
        }
        for (const [raw, type] of [
          ['{"limit":', 'application/json'],
          ['limit=1', 'application/x-www-form-urlencoded'],
          ['', 'application/json'],
        ]) {
          const got = await both(route, raw, auth, type);
          expect({ who, raw, ...got.fast }).toEqual({ who, raw, ...got.nest });
        }
      }
      expect(oks).toBeGreaterThan(0);
    },
  );

  it('valid reads skip the Nest pipeline on the fast api and go through it on the other', async () => {
    const pipe = jest.spyOn(AppValidationPipe.prototype, 'transform');
    try {
      const cases: [string, unknown, string | undefined][] = [
        ['/feed/listLatest', { limit: 2 }, undefined],
        ['/feed/listLatest', { limit: 2 }, carol.auth],
        ['/feed/listByFollowing', {}, carol.auth],
        ['/feed/listLikesCount', {}, carol.auth],
        ['/feed/listByTag', { tag_name: 'travel' }, undefined],
        ['/feed/listByPopularity', { as_of: asOf }, carol.auth],
        ['/video/getDetail', { id: ids[0] }, undefined],
        ['/video/listByAuthorID', { author_id: alice.id }, undefined],
      ];
      for (const [route, body, auth] of cases) {
        for (const [app, throughNest] of [
          [fast, false],
          [nest, true],
        ] as const) {
          pipe.mockClear();
          const req = app.http.post(route);
          if (auth) void req.set('authorization', auth);
          await req.send(body as object).expect(200);
          expect({ route, throughNest: pipe.mock.calls.length > 0 }).toEqual({ route, throughNest });
        }
      }
      // A caller the fast path cannot serve (a revoked token) is left to Nest, which answers 401.
      pipe.mockClear();
      await fast.http.post('/feed/listLatest').set('authorization', revoked.auth).send({}).expect(401);
      expect(pipe).toHaveBeenCalled();
    } finally {
      pipe.mockRestore();
    }
  });

  it.each(['/feed/listLatest', '/feed/listByFollowing'])(
    '%s: is_liked is per viewer on the fast path (liked for carol, not for bob, false anonymous)',
    async (route) => {
      const page = async (auth?: string) => {
        const req = fast.http.post(route);
        if (auth) void req.set('authorization', auth);
        return (await req.send({ limit: 10 })).body as { video_list: { id: number; is_liked: boolean }[] };
      };
      const carols = (await page(carol.auth)).video_list;
      expect(carols.map((v) => v.id).sort()).toEqual([...ids].sort()); // carol follows both authors
      expect(
        carols
          .filter((v) => v.is_liked)
          .map((v) => v.id)
          .sort(),
      ).toEqual([ids[1], ids[4]].sort());
      if (route === '/feed/listLatest') {
        for (const auth of [bob.auth, undefined]) {
          const other = (await page(auth)).video_list;
          expect(other.map((v) => v.id)).toEqual(carols.map((v) => v.id));
          expect(other.every((v) => !v.is_liked)).toBe(true);
        }
      }
    },
  );
});
