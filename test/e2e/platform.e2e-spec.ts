import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';

describe.each(PROFILES)('platform (%s)', (profile) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(profile);
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

  it('a JSON body over 1 MiB is a 413', async () => {
    const big = JSON.stringify({ x: 'a'.repeat(1024 * 1024 + 10) });
    expectError(
      await t.http.post('/healthz').set('content-type', 'application/json').send(big),
      413,
      'PAYLOAD_TOO_LARGE',
    );
  });

  it('GET /metrics is Prometheus text with request, loop-lag and dependency series', async () => {
    await t.http.get('/healthz');
    const res = await t.http.get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.text).toMatch(/http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(res.text).toMatch(/http_request_duration_seconds_bucket/);
    expect(res.text).toMatch(/nodejs_eventloop_lag_seconds/);
    expect(res.text).toMatch(/dependency_up\{dependency="database"\} 1/);
  });

  it('GET /docs serves the UI and /docs/json the OpenAPI description', async () => {
    const ui = await t.http.get('/docs').expect(200);
    expect(ui.text).toMatch(/swagger-ui-bundle\.js/);
    const doc = await t.http.get('/docs/json').expect(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(doc.body.paths['/healthz']).toBeDefined();
    await t.http.get('/docs/swagger-ui-bundle.js').expect(200);
  });
});
