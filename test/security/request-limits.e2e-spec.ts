import type { AddressInfo } from 'node:net';
/**
 * Issue 12, findings #2 (deep or wide JSON stalls the loop or crashes), #3 (no request or
 * connection timeouts), #5 (form-encoded bodies accepted cross-site) and #12 (framework errors
 * leak their own shape): each attack as reported, at a scale that runs in seconds.
 */
import { frameworkError, FRAMEWORK_ERRORS } from '../../apps/api/src/http/all-exceptions.filter';
import { APP_CONFIG, type AppConfig } from '@app/core';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';
import { listen, pool, rawExchange, sleep } from './support';

const PW = 'secret123';

async function token(t: TestApp, username: string): Promise<string> {
  await t.http.post('/account/register').send({ username, password: PW }).expect(200);
  return (await t.http.post('/account/login').send({ username, password: PW }).expect(200)).body
    .token as string;
}

describe.each(PROFILES)('#2 deep and wide JSON (%s)', (profile) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(profile);
  });
  afterAll(async () => {
    await t?.close();
  });
  const post = (body: string) =>
    t.http.post('/account/findByID').set('content-type', 'application/json').send(body);

  it('a 100k-deep body is a 413 (over 64 KiB) and a 30k-deep one a 400, never a 500', async () => {
    const deep = (n: number): string => `{"id":${'['.repeat(n)}${']'.repeat(n)}}`;
    expectError(await post(deep(100_000)), 413, 'PAYLOAD_TOO_LARGE', 'request body is larger than 64 KiB');
    expectError(await post(deep(30_000)), 400, 'VALIDATION_FAILED', /nested more than 32 levels/);
    // Deep inside a string is just text.
    expect((await post(JSON.stringify({ id: 1, note: '['.repeat(30_000) }))).status).toBe(404);
  });

  it('a wide body (20k objects in 64 KiB) is a 400 at once; unknown fields are never walked', async () => {
    const wide = `{"id":1,"x":[${Array.from({ length: 20_000 }, () => '{}').join(',')}]}`;
    expect(wide.length).toBeLessThan(64 * 1024);
    expectError(await post(wide), 400, 'VALIDATION_FAILED', /more than 5000 values/);
    // 4,000 unknown fields under the value cap: ignored (SPEC §1), answered fast.
    const unknown = JSON.stringify({
      id: 999_999,
      ...Object.fromEntries(Array.from({ length: 4000 }, (_, i) => [`k${i}`, {}])),
    });
    const started = Date.now();
    expectError(await post(unknown), 404, 'NOT_FOUND');
    expect(Date.now() - started).toBeLessThan(3000); // headroom for a loaded host
  });

  it('counts values exactly: 5,000 pass, 5,001 are a 400', async () => {
    const zeros = (n: number): string => Array.from({ length: n }, () => '0').join(',');
    // id + x + the elements of x.
    expectError(await post(`{"id":999999,"x":[${zeros(4998)}]}`), 404, 'NOT_FOUND');
    expectError(
      await post(`{"id":999999,"x":[${zeros(4999)}]}`),
      400,
      'VALIDATION_FAILED',
      /more than 5000 values/,
    );
  });

  it('the fast read routes refuse the same bodies as the rest (a small deep body, a __proto__ key)', async () => {
    const deep = `{"id":1,"x":${'['.repeat(33)}${']'.repeat(33)}}`;
    expect(deep.length).toBeLessThan(1024); // small enough for the fast path to read it
    for (const url of [
      '/video/getDetail',
      '/api/video/getDetail',
      '/feed/listLatest',
      '/video/listByAuthorID',
    ]) {
      const res = await t.http.post(url).set('content-type', 'application/json').send(deep);
      expectError(res, 400, 'VALIDATION_FAILED', /nested more than 32 levels/);
    }
    const poisoned = await t.http
      .post('/video/getDetail')
      .set('content-type', 'application/json')
      .send('{"__proto__":{"x":1},"id":1}');
    const viaNest = await t.http
      .post('/account/findByID')
      .set('content-type', 'application/json')
      .send('{"__proto__":{"x":1},"id":1}');
    expectError(poisoned, 400, 'VALIDATION_FAILED', /__proto__, or constructor\.prototype, is not allowed/);
    expect(poisoned.body).toEqual(viaNest.body);
    const ctor = await t.http
      .post('/account/findByID')
      .set('content-type', 'application/json')
      .send('{"id":1,"constructor":{"prototype":{"x":1}}}');
    expectError(ctor, 400, 'VALIDATION_FAILED', /is not allowed/);
    // Malformed JSON that merely names one is still "malformed".
    const broken = await t.http
      .post('/account/findByID')
      .set('content-type', 'application/json')
      .send('{"__proto__":');
    expectError(broken, 400, 'VALIDATION_FAILED', 'malformed JSON body');
  });

  it('six wide bodies at once do not stall /healthz', async () => {
    const base = await listen(t);
    // 2 + 2,400 elements + their 2,400 members: just under the cap, so each is walked by the parser.
    const wide = `{"id":1,"x":[${Array.from({ length: 2400 }, () => '{"a":[]}').join(',')}]}`;
    const attack = Array.from({ length: 6 }, () =>
      fetch(`${base}/account/findByID`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: wide,
      }),
    );
    const t0 = performance.now();
    const health = await fetch(`${base}/healthz`);
    const healthMs = performance.now() - t0;
    expect(health.status).toBe(200);
    for (const r of await Promise.all(attack)) expect(r.status).toBeLessThan(500);
    expect(healthMs).toBeLessThan(3000); // headroom for a loaded host
  });
  it('a body that is not UTF-8 is a 400 saying so, through Nest and through the fast reads alike', async () => {
    // Listening already when the test before ran.
    const address = t.app.getHttpServer().address() as AddressInfo | null;
    const base = address ? `http://127.0.0.1:${address.port}` : await listen(t);
    const post = async (
      route: string,
      body: Buffer,
    ): Promise<{ status: number; body: { error?: string } }> => {
      const res = await fetch(base + route, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      return { status: res.status, body: (await res.json()) as { error?: string } };
    };
    const bad = Buffer.concat([Buffer.from('{"username":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    for (const route of ['/account/findByUsername', '/feed/listLatest', '/video/getDetail']) {
      expect(await post(route, bad)).toEqual({
        status: 400,
        body: { error: 'request body is not valid UTF-8', code: 'VALIDATION_FAILED', details: [] },
      });
    }
    // Multi-byte UTF-8 is read as it is.
    expect((await post('/account/findByUsername', Buffer.from('{"username":"名前"}'))).status).toBe(404);
  });
});

describe('#3 request, body and connection timeouts', () => {
  let t: TestApp;
  let port: number;
  let bearer: string;
  beforeAll(async () => {
    t = await startApp('embedded', {
      env: { REQUEST_TIMEOUT: '1', UPLOAD_TIMEOUT: '3', IDLE_TIMEOUT: '10', KEEP_ALIVE_TIMEOUT: '1' },
    });
    port = Number(new URL(await listen(t)).port);
    bearer = await token(t, 'slow');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a JSON body that sends one byte then stalls gets a 408 and is closed after REQUEST_TIMEOUT', async () => {
    const r = await rawExchange(
      port,
      [
        'POST /account/login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
      ],
      8000,
    );
    expect(r.data).toMatch(/^HTTP\/1\.1 408/);
    expect(r.data).toContain('"code":"REQUEST_TIMEOUT"');
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(r.closedAfterMs).toBeLessThan(4000);
  });

  it('headers that never finish get a 408 and are closed after REQUEST_TIMEOUT', async () => {
    const r = await rawExchange(
      port,
      ['POST /account/login HTTP/1.1\r\nHost: a\r\n', 300, 'X-Slow: 1\r\n'],
      8000,
    );
    expect(r.data).toMatch(/^HTTP\/1\.1 408/);
    expect(r.closedAfterMs).toBeLessThan(4000);
  });

  it('headers finished just after REQUEST_TIMEOUT are a 408, not served', async () => {
    const r = await rawExchange(
      port,
      [
        'POST /account/findByID HTTP/1.1\r\nHost: a\r\n',
        1100,
        'Content-Type: application/json\r\nContent-Length: 8\r\nConnection: close\r\n\r\n{"id":1}',
      ],
      4000,
    );
    expect(r.data).toMatch(/^HTTP\/1\.1 408/);
    expect(r.data).toContain('"code":"REQUEST_TIMEOUT"');
  });

  it('an idle keep-alive connection is closed after KEEP_ALIVE_TIMEOUT', async () => {
    const r = await rawExchange(port, ['GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n'], 8000);
    expect(r.data).toMatch(/^HTTP\/1\.1 200/);
    expect(r.closedAfterMs).toBeLessThan(4000);
  });

  it('an upload body gets UPLOAD_TIMEOUT, not the JSON deadline', async () => {
    const boundary = 'xBOUNDARYx';
    const head =
      `POST /video/uploadCover HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${bearer}\r\n` +
      `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000\r\n\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n` +
      'Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff';
    const early = await rawExchange(port, [head], 2000);
    expect(early.closedAfterMs).toBeNull();
    const late = await rawExchange(port, [head], 8000);
    expect(late.data).toMatch(/^HTTP\/1\.1 408/);
    expect(late.closedAfterMs).toBeGreaterThanOrEqual(2500);
    expect(late.closedAfterMs).toBeLessThan(6000);
  });
});

describe('#3 idle connections and the per-address connection cap', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await startApp('embedded', { env: { IDLE_TIMEOUT: '2', MAX_CONNECTIONS_PER_IP: '5' } });
    port = Number(new URL(await listen(t)).port);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a connection that sends nothing is closed after IDLE_TIMEOUT', async () => {
    const r = await rawExchange(port, [], 8000);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(1500);
    expect(r.closedAfterMs).toBeLessThan(5000);
  });

  it('a 6th connection from one address is closed at once; a freed slot serves again', async () => {
    const held = Array.from({ length: 5 }, () => rawExchange(port, [], 1500));
    await sleep(200);
    const sixth = await rawExchange(port, ['GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n'], 1000);
    expect(sixth.data).toBe('');
    expect(sixth.closedAfterMs).not.toBeNull();
    await Promise.all(held);
    await sleep(100);
    const again = await rawExchange(
      port,
      ['GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'],
      3000,
    );
    expect(again.data).toMatch(/^HTTP\/1\.1 200/);
  });
});

describe('#3 the default cap: a few hundred connections of one address are served', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await startApp('embedded');
    port = Number(new URL(await listen(t)).port);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('300 connections open at once from one address each get their answer (MAX_CONNECTIONS_PER_IP 512)', async () => {
    expect(t.app.get<AppConfig>(APP_CONFIG).http.maxConnectionsPerIp).toBe(512);
    // Each holds its connection open 1.5 s before asking, so all 300 are open together.
    const answers = await Promise.all(
      Array.from({ length: 300 }, () =>
        rawExchange(port, [1500, 'GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'], 15_000),
      ),
    );
    const ok = answers.filter((a) => /^HTTP\/1\.1 200/.test(a.data)).length;
    expect(ok).toBe(300);
  });
});

describe.each(PROFILES)('#5 JSON only: other content types are a 415 (%s)', (profile) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(profile);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('form-encoded, text/plain and multipart register/login from a foreign Origin write nothing', async () => {
    const attempts: [string, string][] = [
      ['application/x-www-form-urlencoded', 'username=csrf1&password=secret123'],
      ['text/plain', '{"username":"csrf2","password":"secret123"}'],
      [
        'multipart/form-data; boundary=b',
        '--b\r\nContent-Disposition: form-data; name="username"\r\n\r\ncsrf3\r\n--b--\r\n',
      ],
    ];
    for (const route of ['/account/register', '/account/login']) {
      for (const [type, body] of attempts) {
        const res = await t.http
          .post(route)
          .set('Origin', 'https://evil.example')
          .set('content-type', type)
          .send(body);
        expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      }
    }
    const rows = await t.sql<{ n: number | string }>('SELECT COUNT(*) AS n FROM accounts');
    expect(Number(rows[0].n)).toBe(0);
  });

  it('text/plain without an Origin (fetch with a string body and no content type) is read as JSON; form-encoded never is', async () => {
    const base = await listen(t);
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${base}${path}`, { method: 'POST', body, headers });
    const register = await post(
      '/account/register',
      JSON.stringify({ username: 'plainfetch', password: 'secret123' }),
    );
    expect(register.status).toBe(200);
    expect(register.headers.get('content-type')).toMatch(/^application\/json/);
    const login = await post(
      '/account/login',
      JSON.stringify({ username: 'plainfetch', password: 'secret123' }),
    );
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };
    const published = await post(
      '/video/publish',
      JSON.stringify({
        title: 'sent as text',
        play_url: 'https://cdn.example/v.mp4',
        cover_url: 'https://cdn.example/c.jpg',
      }),
      { authorization: `Bearer ${token}`, 'content-type': 'text/plain; charset=utf-8' },
    );
    expect(published.status).toBe(200);
    expect(((await published.json()) as { title: string }).title).toBe('sent as text');
    // The same with an Origin (a page in a browser, any site), and form-encoded without one: 415.
    const fromPage = await post(
      '/account/login',
      JSON.stringify({ username: 'plainfetch', password: 'secret123' }),
      {
        origin: 'https://evil.example',
      },
    );
    expect(fromPage.status).toBe(415);
    expect(((await fromPage.json()) as { code: string }).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const form = await post('/account/login', 'username=plainfetch&password=secret123', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
    // Not JSON: the 400 of a malformed JSON body.
    const bad = await post('/account/login', 'username=plainfetch');
    expect(bad.status).toBe(400);
  });
});

describe.each(PROFILES)('#12 framework errors answer SPEC §1 bodies (%s)', (profile) => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await startApp(profile);
    port = Number(new URL(await listen(t)).port);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('GET /% and /api/% are a 400 without Fastify’s own fields', async () => {
    for (const path of ['/%', '/api/%', '/account/%zz']) {
      const r = await rawExchange(
        port,
        [`GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`],
        3000,
      );
      expect(r.data).toMatch(/^HTTP\/1\.1 400/);
      const body = JSON.parse(r.data.slice(r.data.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
      expect(body).toEqual({ error: 'malformed URL', code: 'VALIDATION_FAILED', details: [] });
    }
  });

  it('malformed HTTP and oversized headers are answered in SPEC §1 shape', async () => {
    const garbage = await rawExchange(port, ['GARBAGE\r\n\r\n'], 3000);
    expect(garbage.data).toMatch(/^HTTP\/1\.1 400/);
    expect(garbage.data).toContain('"code":"VALIDATION_FAILED"');
    expect(garbage.data).not.toMatch(/statusCode|Client Error/);
    const huge = await rawExchange(
      port,
      [`GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
      3000,
    );
    expect(huge.data).toMatch(/^HTTP\/1\.1 431/);
    expect(huge.data).toContain('"code":"PAYLOAD_TOO_LARGE"');
    // Many short lines: Node counts only their names and values (1,900 × 6 bytes), the block as
    // sent is 19,000 bytes and over 16 KiB.
    const lines = (n: number) =>
      Array.from({ length: n }, (_, i) => `X${String(i).padStart(4, '0')}: v\r\n`).join('');
    const findById = (headers: string) =>
      'POST /account/findByID HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n' +
      `Content-Length: 8\r\nConnection: close\r\n${headers}\r\n{"id":1}`;
    const many = await rawExchange(port, [findById(lines(1900))], 3000);
    expect(many.data).toMatch(/^HTTP\/1\.1 431/);
    expect(JSON.parse(many.data.slice(many.data.indexOf('\r\n\r\n') + 4))).toEqual({
      error: 'request headers are too large',
      code: 'PAYLOAD_TOO_LARGE',
    });
    // Just under 16 KiB as sent (1,600 lines, ~16,100 bytes): answered.
    const under = await rawExchange(port, [findById(lines(1600))], 3000);
    expect(Buffer.byteLength(findById(lines(1600)))).toBeLessThan(16 * 1024);
    expect(under.data).not.toMatch(/^HTTP\/1\.1 431/);
    expect(under.data).toMatch(/^HTTP\/1\.1 (200|404)/);
  });

  it('body errors (length mismatch, empty JSON, bad JSON) never echo framework text', async () => {
    const mismatch = await rawExchange(
      port,
      [
        'POST /account/login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}xx',
      ],
      3000,
    );
    expect(mismatch.data).not.toMatch(/FST_|statusCode/);
    for (const body of ['', '{"a":', '{"__proto__":{"x":1}}']) {
      const res = await t.http.post('/account/login').set('content-type', 'application/json').send(body);
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(JSON.stringify(res.body)).not.toMatch(/FST_|statusCode|Unexpected/);
    }
  });

  it('multipart limit errors map to their own 413/415/400 messages, never "file is larger"', () => {
    for (const code of ['FST_PARTS_LIMIT', 'FST_FILES_LIMIT', 'FST_FIELDS_LIMIT']) {
      const e = frameworkError(Object.assign(new Error('raw'), { code, statusCode: 413 }));
      expect(e?.message).toBe(FRAMEWORK_ERRORS[code][1]);
      expect(e?.message).not.toMatch(/file is larger/);
    }
    expect(
      frameworkError(Object.assign(new Error('raw'), { code: 'FST_INVALID_MULTIPART_CONTENT_TYPE' }))?.code,
    ).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(frameworkError(new Error('anything else'))).toBeNull();
  });
});

describe('#2/#3 the sweep of timeouts leaves the process healthy', () => {
  it('dozens of stalled bodies are all closed, then the api still answers', async () => {
    const t = await startApp('embedded', { env: { REQUEST_TIMEOUT: '1' } });
    try {
      const base = await listen(t);
      const port = Number(new URL(base).port);
      const stalled = await pool(
        Array.from({ length: 40 }, (_, i) => i),
        40,
        () =>
          rawExchange(
            port,
            [
              'POST /account/login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{',
            ],
            6000,
          ),
      );
      expect(stalled.every((r) => r.closedAfterMs !== null && r.closedAfterMs < 5000)).toBe(true);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
