/**
 * Issue 12, findings #6 (no security headers on the web client and /docs), #10 (/metrics public,
 * also under /api) and "request logging" (a console line per request; tokens in logs).
 */
import request from 'supertest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsServer } from '../../apps/api/src/metrics/metrics-server';
import { startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';
import { sleep, spawnApiProcess } from './support';

function directives(csp: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of (csp ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) out.set(name, values);
  }
  return out;
}

describe.each(PROFILES)('#6 security headers (%s)', (profile) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(profile, { env: { TRUSTED_PROXIES: '127.0.0.1,::1,::ffff:127.0.0.1' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the web client, API answers and errors carry a strict CSP and the other headers', async () => {
    for (const res of [
      await t.http.get('/'),
      await t.http.get('/some/client/route'),
      await t.http.get('/healthz'),
      await t.http.post('/account/findByID').send({ id: 1 }),
      await t.http.post('/nope').send({}),
    ]) {
      const csp = directives(res.headers['content-security-policy']);
      expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
      expect(csp.get('script-src')).toEqual(["'self'"]);
      expect(csp.get('style-src')).toEqual(["'self'"]);
      expect(csp.get('object-src')).toEqual(["'none'"]);
      expect(csp.get('default-src')).toEqual(["'self'"]);
      // External http(s) media and covers (SPEC §3.2), blob: previews, the data: favicon.
      expect(csp.get('media-src')).toEqual(expect.arrayContaining(["'self'", 'blob:', 'https:']));
      expect(csp.get('img-src')).toEqual(expect.arrayContaining(["'self'", 'data:', 'blob:', 'https:']));
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(res.headers['strict-transport-security']).toBeUndefined();
    }
  });

  it('HSTS only when the request came over TLS (X-Forwarded-Proto from a trusted proxy)', async () => {
    const res = await t.http.get('/healthz').set('X-Forwarded-Proto', 'https');
    expect(res.headers['strict-transport-security']).toMatch(/^max-age=31536000/);
  });

  it('/docs keeps working under its own CSP: no inline script, init from a file', async () => {
    const ui = await t.http.get('/docs').expect(200);
    const csp = directives(ui.headers['content-security-policy']);
    expect(csp.get('script-src')).toEqual(["'self'"]);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    // Every <script> has a src on the same origin: nothing inline for the CSP to block.
    const scripts = [...ui.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, inline] of scripts) {
      expect(attrs).toMatch(/src="\/docs\//);
      expect(inline.trim()).toBe('');
    }
    const init = await t.http.get('/docs/init.js').expect(200);
    expect(init.headers['content-type']).toMatch(/javascript/);
    expect(init.text).toContain("url: '/docs/json'");
    for (const f of ['swagger-ui-bundle.js', 'swagger-ui.css']) await t.http.get(`/docs/${f}`).expect(200);
  });

  it('the built web client (when built) has no inline script or style for the CSP to block', () => {
    const index = join(__dirname, '..', '..', 'dist', 'web', 'index.html');
    const html = existsSync(index)
      ? readFileSync(index, 'utf8')
      : readFileSync(join(__dirname, '..', '..', 'apps', 'web', 'index.html'), 'utf8');
    for (const [, attrs, inline] of html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)) {
      expect(attrs).toMatch(/src="\//);
      expect(inline.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style[\s>]|\sstyle="/);
  });

  it('/static files may be embedded cross-origin (CORP), everything else same-origin', async () => {
    const file = await t.http.get('/static/videos/2026/01/00000000000000000000000000000000.mp4');
    expect(file.headers['cross-origin-resource-policy']).toBe('cross-origin');
    expect((await t.http.get('/healthz')).headers['cross-origin-resource-policy']).toBe('same-origin');
  });
});

describe.each(PROFILES)('#10 metrics only on METRICS_PORT (%s)', (profile) => {
  it('off by default; with METRICS_PORT on its own listener only; never on the public port or under /api', async () => {
    const off = await startApp(profile);
    try {
      expect(off.app.get(MetricsServer).port).toBeNull();
      for (const path of ['/metrics', '/api/metrics']) {
        expect((await off.http.get(path)).text).not.toMatch(/http_requests_total|process_cpu/);
      }
    } finally {
      await off.close();
    }
    const on = await startApp(profile, { env: { METRICS_PORT: '0', HOST: '127.0.0.1' } });
    try {
      for (const path of ['/metrics', '/api/metrics']) {
        expect((await on.http.get(path)).text).not.toMatch(/http_requests_total|process_cpu/);
      }
      const metrics = request(`http://127.0.0.1:${on.app.get(MetricsServer).port}`);
      expect((await metrics.get('/metrics').expect(200)).text).toMatch(/process_cpu/);
      expect((await metrics.get('/api/metrics')).status).toBe(404);
      expect((await metrics.post('/metrics')).status).toBe(404);
    } finally {
      await on.close();
    }
  });
});

describe('request logging: pino JSON lines, tokens redacted', () => {
  it('one JSON line per request at info, with the request id and status, and no token anywhere', async () => {
    const secret = 'eyJhbGciOiJIUzI1NiJ9.eyJzZWNyZXQiOjF9.c2VjcmV0LXNpZ25hdHVyZQ';
    const dataDir = mkdtempSync(join(tmpdir(), 'fsv-logs-'));
    const api = await spawnApiProcess(
      { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), LOG_LEVEL: 'info', DATA_DIR: dataDir },
      {},
    );
    try {
      await fetch(`${api.url}/healthz`, { headers: { 'x-request-id': 'req-log-1' } });
      await fetch(`${api.url}/account/logout?token=${secret}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${secret}`,
          'content-type': 'application/json',
          'x-request-id': 'req-log-2',
        },
        body: JSON.stringify({ password: secret, token: secret }),
      });
      await sleep(300);
    } finally {
      await api.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    const lines = api
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.length).toBeGreaterThan(3);
    const requests = parsed.filter((p) => p.msg === 'request');
    expect(requests).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reqId: 'req-log-1', method: 'GET', url: '/healthz', status: 200 }),
        expect.objectContaining({ reqId: 'req-log-2', status: 401, url: '/account/logout?token=[redacted]' }),
      ]),
    );
    expect(api.output()).not.toContain(secret);
    expect(api.output()).not.toContain('c2VjcmV0LXNpZ25hdHVyZQ');
  });
});
