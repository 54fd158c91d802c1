import request from 'supertest';
import { MetricsServer } from '../../apps/api/src/metrics/metrics-server';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';

describe.each(PROFILES)('platform (%s)', (profile) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(profile, { env: { METRICS_PORT: '0', HOST: '127.0.0.1' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('GET /healthz reports each dependency with 200 while the database is up', async () => {
    const res = await t.http.get('/healthz').expect(200);
    expect(res.body).toEqual({
      status: 'ok',
      database: 'up',
      redis: profile === 'full' ? 'up' : 'disabled',
      rabbitmq: 'disabled',
      storage: 'up',
    });
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('answers under the /api prefix too', async () => {
    const res = await t.http.get('/api/healthz').expect(200);
    expect(res.body.database).toBe('up');
  });

  it('unknown routes are 404 NOT_FOUND with the error body, any method', async () => {
    expectError(await t.http.post('/nope/nothing').send({}), 404, 'NOT_FOUND');
    expectError(await t.http.delete('/account/login'), 404, 'NOT_FOUND');
  });

  it('malformed JSON is a 400 with empty details', async () => {
    const res = await t.http.post('/nope').set('content-type', 'application/json').send('{"a":');
    const body = expectError(res, 400, 'VALIDATION_FAILED');
    expect(body.details).toEqual([]);
  });

  it('a JSON body over 64 KiB is a 413', async () => {
    const big = JSON.stringify({ x: 'a'.repeat(64 * 1024 + 10) });
    expectError(
      await t.http.post('/healthz').set('content-type', 'application/json').send(big),
      413,
      'PAYLOAD_TOO_LARGE',
    );
  });

  it('GET /metrics is Prometheus text on METRICS_PORT only, never on the public port', async () => {
    await t.http.get('/healthz');
    for (const path of ['/metrics', '/api/metrics']) {
      // The public port has no metrics route: a 404, or the web client's page when it is built
      // (SPEC §1: any other GET serves the web client), never Prometheus text.
      const pub = await t.http.get(path);
      expect(pub.headers['content-type'] ?? '').not.toMatch(/text\/plain/);
      expect(pub.text).not.toMatch(/http_requests_total|# HELP/);
    }
    const port = t.app.get(MetricsServer).port;
    expect(port).toEqual(expect.any(Number));
    const metrics = request(`http://127.0.0.1:${port}`);
    expectError(await metrics.get('/api/metrics'), 404, 'NOT_FOUND');
    const res = await metrics.get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.text).toMatch(/http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(res.text).toMatch(/http_request_duration_seconds_bucket/);
    expect(res.text).toMatch(/nodejs_eventloop_lag_seconds/);
    expect(res.text).toMatch(/dependency_up\{dependency="database"\} 1/);
  });

  it('lists other than feeds default to 200 items without limit (SPEC §8.5)', async () => {
    await t.http.post('/account/register').send({ username: 'lister', password: 'secret123' }).expect(200);
    const login = await t.http
      .post('/account/login')
      .send({ username: 'lister', password: 'secret123' })
      .expect(200);
    const auth: [string, string] = ['Authorization', `Bearer ${login.body.token}`];
    const video = {
      title: 'v',
      play_url: '/static/videos/2026/01/a.mp4',
      cover_url: '/static/covers/2026/01/a.jpg',
    };
    let first = 0;
    for (let i = 0; i < 201; i++) {
      const v = await t.http
        .post('/video/publish')
        .set(...auth)
        .send(video)
        .expect(200);
      first ||= v.body.id;
      await t.http
        .post('/comment/publish')
        .set(...auth)
        .send({ video_id: first, content: `c${i}` })
        .expect(200);
    }
    for (const body of [
      { author_id: login.body.account_id },
      { author_id: login.body.account_id, limit: 0 },
    ]) {
      expect((await t.http.post('/video/listByAuthorID').send(body).expect(200)).body).toHaveLength(200);
    }
    expect((await t.http.post('/comment/listAll').send({ video_id: first }).expect(200)).body).toHaveLength(
      200,
    );
    const capped = await t.http
      .post('/video/listByAuthorID')
      .send({ author_id: login.body.account_id, limit: 500 });
    expect(capped.body).toHaveLength(200);
    // Feeds keep their own default of 10.
    expect((await t.http.post('/feed/listLatest').send({}).expect(200)).body.video_list).toHaveLength(10);
  });

  it('GET /docs serves the UI and /docs/json the OpenAPI description', async () => {
    const ui = await t.http.get('/docs').expect(200);
    expect(ui.text).toMatch(/swagger-ui-bundle\.js/);
    const doc = await t.http.get('/docs/json').expect(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(doc.body.paths['/healthz']).toBeDefined();
    await t.http.get('/docs/swagger-ui-bundle.js').expect(200);
  });

  it('the OpenAPI document describes every route whole: request body, 200 schema and SPEC §1 error answers', async () => {
    interface Operation {
      requestBody?: { content: Record<string, { schema?: object }> };
      responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
    }
    const doc = (await t.http.get('/docs/json').expect(200)).body as {
      paths: Record<string, Record<string, Operation>>;
    };
    const gaps: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const name = `${method.toUpperCase()} ${path}`;
        // The notification stream's 200 is an event stream, not JSON.
        const type = path === '/notification/stream' ? 'text/event-stream' : 'application/json';
        const ok = op.responses['200']?.content?.[type]?.schema;
        if (!ok) gaps.push(`${name}: 200 without a schema`);
        if (method === 'post' && !Object.values(op.requestBody?.content ?? {}).some((c) => c.schema)) {
          gaps.push(`${name}: no request body schema`);
        }
        const errors = Object.entries(op.responses).filter(([status]) => Number(status) >= 400);
        if (errors.length === 0) gaps.push(`${name}: no error answers`);
        for (const [status, r] of errors) {
          const ref = r.content?.['application/json']?.schema?.$ref ?? '';
          if (path !== '/healthz' && !/\/(ErrorResponse|ChunkIncompleteResponse)$/.test(ref)) {
            gaps.push(`${name}: ${status} without the error body`);
          }
        }
      }
    }
    expect(gaps).toEqual([]);
    const upload = doc.paths['/video/uploadVideo'].post;
    expect(Object.keys(upload.requestBody?.content ?? {})).toEqual(['multipart/form-data']);
    expect(Object.keys(upload.responses).sort()).toEqual(['200', '400', '401', '413', '415', '429', '503']);
    expect(Object.keys(doc.paths['/like/like'].post.responses).sort()).toEqual([
      '200',
      '400',
      '401',
      '404',
      '409',
      '413',
      '415',
      '429',
      '503',
    ]);
  });
});
