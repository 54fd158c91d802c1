/**
 * The bad-input sweep of issue 12: every route of the OpenAPI document (read at run time, so
 * routes added later are covered too), with and without a valid token, gets wrong types, huge
 * strings, deep and wide JSON, unicode edge cases, malformed bodies and wrong content types.
 * Not one answer may be a 5xx (or a dropped connection); the count is printed.
 */
import { startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';
import { listen } from './support';

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  $ref?: string;
  example?: unknown;
  allOf?: Schema[];
}

interface Operation {
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  security?: unknown[];
}

interface Route {
  method: string;
  path: string;
  multipart: boolean;
  properties: Record<string, Schema>;
}

interface Probe {
  label: string;
  contentType?: string;
  body?: string | FormData;
  headers?: Record<string, string>;
  query?: string;
}

const PW = 'secret123';

const WRONG_VALUES: unknown[] = [
  0,
  -1,
  1.5,
  2 ** 53,
  1e308,
  -1e308,
  'x',
  '',
  '   ',
  '\u0000',
  '\ud800',
  '\udfff\ud800',
  '\u202eevil',
  'e\u0301\u0301\u0301\u0301\u0301\u0301',
  'ｆｕｌｌ',
  'a\u200db\ufe0f\u034f',
  '😀'.repeat(400),
  "'; DROP TABLE accounts; --",
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  '/static/%2e%2e/%2e%2e/docs',
  'x'.repeat(60 * 1024),
  true,
  null,
  [],
  [1, 2, 3],
  {},
  { $ne: 1 },
];

const deep = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;

function resolve(doc: { components?: { schemas?: Record<string, Schema> } }, s: Schema | undefined): Schema {
  if (!s) return {};
  if (s.$ref) return resolve(doc, doc.components?.schemas?.[s.$ref.split('/').pop() ?? '']);
  if (s.allOf)
    return s.allOf
      .map((x) => resolve(doc, x))
      .reduce((a, b) => ({ ...a, ...b, properties: { ...a.properties, ...b.properties } }), {});
  return s;
}

function baseValue(s: Schema): unknown {
  if (s.example !== undefined) return s.example;
  if (s.type === 'integer' || s.type === 'number') return 1;
  if (s.type === 'boolean') return true;
  if (s.type === 'array') return [];
  return 'probe';
}

function probesFor(route: Route): Probe[] {
  const json = 'application/json';
  const props = Object.entries(route.properties);
  const base = Object.fromEntries(props.map(([k, s]) => [k, baseValue(s)]));
  const probes: Probe[] = [
    { label: 'no body' },
    { label: 'empty JSON', contentType: json, body: '' },
    { label: 'malformed JSON', contentType: json, body: '{"a":' },
    { label: 'array', contentType: json, body: '[]' },
    { label: 'string', contentType: json, body: '"s"' },
    { label: 'number', contentType: json, body: '123' },
    { label: 'null', contentType: json, body: 'null' },
    { label: '{}', contentType: json, body: '{}' },
    {
      label: 'proto',
      contentType: json,
      body: '{"__proto__":{"admin":true},"constructor":{"prototype":{}}}',
    },
    { label: 'deep 40', contentType: json, body: `{"x":${deep(40)}}` },
    { label: 'deep 30k', contentType: json, body: `{"x":${deep(30_000)}}` },
    { label: 'deep 100k', contentType: json, body: deep(100_000) },
    {
      label: 'wide',
      contentType: json,
      body: `{"x":[${Array.from({ length: 6000 }, () => '0').join(',')}]}`,
    },
    { label: 'over 64 KiB', contentType: json, body: JSON.stringify({ x: 'y'.repeat(70 * 1024) }) },
    { label: 'text/plain', contentType: 'text/plain', body: JSON.stringify(base) },
    { label: 'form', contentType: 'application/x-www-form-urlencoded', body: 'a=1&b=2' },
    { label: 'xml', contentType: 'application/xml', body: '<a/>' },
    { label: 'bad charset', contentType: 'application/json; charset=utf-7', body: '{}' },
    {
      label: 'huge idempotency key',
      contentType: json,
      body: JSON.stringify(base),
      headers: { 'idempotency-key': 'k'.repeat(7000) },
    },
    {
      label: 'unicode idempotency key',
      contentType: json,
      body: JSON.stringify(base),
      headers: { 'idempotency-key': Buffer.from('ключ-\u202e', 'utf8').toString('latin1') },
    },
    { label: 'query junk', contentType: json, body: JSON.stringify(base), query: '?a[b]=1&__proto__=x&%zz' },
    { label: 'base', contentType: json, body: JSON.stringify(base) },
  ];
  const multipart = new FormData();
  multipart.append('file', new Blob([Buffer.from('not really a file')]), 'x.mp4');
  multipart.append('file', new Blob([Buffer.alloc(0)]), '');
  multipart.append('username', 'x');
  probes.push({ label: 'multipart', body: multipart });
  const wrongField = new FormData();
  wrongField.append('other', new Blob([Buffer.from('\xff\xd8\xff')]), 'a.jpg');
  probes.push({ label: 'multipart wrong field', body: wrongField });
  probes.push({ label: 'multipart no boundary', contentType: 'multipart/form-data', body: '--x\r\n' });
  probes.push({
    label: 'multipart garbage',
    contentType: 'multipart/form-data; boundary=zz',
    body: '--zz\r\ngarbage',
  });
  for (const [name] of props) {
    for (const v of WRONG_VALUES) {
      probes.push({
        label: `${name}=${JSON.stringify(v).slice(0, 20)}`,
        contentType: json,
        body: JSON.stringify({ ...base, [name]: v }),
      });
    }
  }
  return probes;
}

describe.each(PROFILES)('bad-input sweep over the OpenAPI document (%s)', (profile) => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await startApp(profile);
    base = await listen(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('no route answers a 5xx or drops the connection, whatever it is sent', async () => {
    let username = 'sweeper';
    await t.http.post('/account/register').send({ username, password: PW }).expect(200);
    let token = (await t.http.post('/account/login').send({ username, password: PW }).expect(200)).body
      .token as string;
    const relogin = async (): Promise<void> => {
      token = (await t.http.post('/account/login').send({ username, password: PW }).expect(200)).body
        .token as string;
    };

    const doc = (await t.http.get('/docs/json').expect(200)).body as {
      paths: Record<string, Record<string, Operation>>;
      components?: { schemas?: Record<string, Schema> };
    };
    const routes: Route[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const content = op.requestBody?.content ?? {};
        const schema = resolve(
          doc,
          content['application/json']?.schema ?? content['multipart/form-data']?.schema,
        );
        routes.push({
          method: method.toUpperCase(),
          path,
          multipart: 'multipart/form-data' in content,
          properties: schema.properties ?? {},
        });
      }
    }
    expect(routes.length).toBeGreaterThan(30);

    const failures: string[] = [];
    let sent = 0;
    const byStatus = new Map<number, number>();
    for (const route of routes) {
      for (const probe of probesFor(route)) {
        for (const withToken of [false, true]) {
          const headers: Record<string, string> = { ...(probe.headers ?? {}) };
          if (probe.contentType) headers['content-type'] = probe.contentType;
          if (withToken) headers.authorization = `Bearer ${token}`;
          const hasBody = route.method !== 'GET' && route.method !== 'HEAD';
          let status: number;
          try {
            const res = await fetch(`${base}${route.path}${probe.query ?? ''}`, {
              method: route.method,
              headers,
              body: hasBody ? probe.body : undefined,
              signal: AbortSignal.timeout(10_000),
            });
            status = res.status;
            const type = res.headers.get('content-type') ?? '';
            const text = type.startsWith('text/event-stream') ? '' : await res.text();
            if (type.startsWith('text/event-stream')) await res.body?.cancel();
            if (status === 200 && withToken) {
              if (route.path === '/account/rename') {
                token = (JSON.parse(text) as { token: string }).token;
                username = (
                  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { username: string }
                ).username;
              } else if (route.path === '/account/logout' || route.path === '/account/changePassword') {
                await relogin();
              }
            }
          } catch (err) {
            failures.push(
              `${route.method} ${route.path} [${probe.label}] ${withToken ? '(token)' : ''}: ${String(err)}`,
            );
            continue;
          } finally {
            sent++;
          }
          byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
          if (status >= 500)
            failures.push(
              `${route.method} ${route.path} [${probe.label}] ${withToken ? '(token)' : ''}: ${status}`,
            );
        }
      }
    }
    const fivexx = [...byStatus].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
    const summary = [...byStatus]
      .sort(([a], [b]) => a - b)
      .map(([s, c]) => `${s}×${c}`)
      .join(' ');
    console.log(
      `bad-input sweep (${profile}): ${sent} requests over ${routes.length} routes, ${fivexx} responses 5xx, ` +
        `${failures.length - fivexx} dropped; statuses ${summary}`,
    );
    expect(failures).toEqual([]);
  }, 600_000);
});
