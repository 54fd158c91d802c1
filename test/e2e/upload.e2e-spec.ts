import { createHmac } from 'node:crypto';
import { readdirSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';
import * as media from '../fixtures/media-fixtures';

const MiB = 1024 * 1024;
jest.setTimeout(120_000);
const URL_RE = (dir: string, ext: string) =>
  new RegExp(`^/static/${dir}/\\d{4}/\\d{2}/[0-9a-f]{32}\\.${ext}$`);

function sign(claims: Record<string, unknown>, secret: string): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/** A registered, logged-in account. */
async function makeAccount(t: TestApp, name: string): Promise<{ id: number; token: string }> {
  await t.http.post('/account/register').send({ username: name, password: 'secret123' }).expect(200);
  const res = await t.http.post('/account/login').send({ username: name, password: 'secret123' }).expect(200);
  return { id: res.body.account_id as number, token: res.body.token as string };
}

/** Every file under DATA_DIR/uploads (temp files included). */
function storedFiles(t: TestApp): string[] {
  const root = join(t.config.dataDir, 'uploads');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

interface RawResult {
  head: string;
  sentAtResponse: number;
  totalSent: number;
  closed: boolean;
}

/**
 * Streams a multipart upload of `declared` bytes over a raw socket as fast as the server takes
 * it, and reports how much had been sent when the response arrived and whether the server
 * closed the connection rather than reading the rest.
 */
function rawUpload(
  port: number,
  path: string,
  token: string,
  head: Buffer,
  declared: number,
): Promise<RawResult> {
  const boundary = 'rawboundary7f3a';
  const pre = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n` +
      `Content-Type: image/png\r\n\r\n`,
  );
  const post = Buffer.from(`\r\n--${boundary}--\r\n`);
  const contentLength = pre.length + declared + post.length;
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let sent = 0;
    let sentAtResponse = -1;
    let response = '';
    let done = false;
    const chunk = Buffer.alloc(256 * 1024, 0x2a);
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ head: response.split('\r\n\r\n')[0], sentAtResponse, totalSent: sent, closed });
    };
    const timer = setTimeout(() => (done ? undefined : reject(new Error(`no answer; sent ${sent}`))), 30000);
    sock.on('data', (d) => {
      if (sentAtResponse < 0) sentAtResponse = sent;
      response += d.toString('latin1');
    });
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
    // Like a browser: keep sending until the server answers, then stop and wait for it to hang up.
    const pump = async () => {
      while (!done && sentAtResponse < 0 && sent < declared) {
        const n = Math.min(chunk.length, declared - sent);
        const piece =
          sent === 0 ? Buffer.concat([head, chunk.subarray(head.length, n)]) : chunk.subarray(0, n);
        sent += n;
        if (!sock.write(piece)) await new Promise((r) => sock.once('drain', r));
        await new Promise((r) => setImmediate(r));
      }
      if (!done && sent >= declared) sock.write(post);
    };
    sock.on('connect', () => {
      sock.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${contentLength}\r\n\r\n`,
      );
      sock.write(pre);
      void pump();
    });
  });
}

describe.each(PROFILES)('uploads (%s)', (profile) => {
  let t: TestApp;
  let alice: { id: number; token: string };
  let bob: { id: number; token: string };

  beforeAll(async () => {
    t = await startApp(profile);
    alice = await makeAccount(t, 'alice_up');
    bob = await makeAccount(t, 'bob_up');
  });
  afterAll(async () => {
    await t?.close();
  });

  const auth = (who: { token: string }) => `Bearer ${who.token}`;

  describe('happy paths', () => {
    it('uploadVideo stores a WebM under a random name and returns {url, play_url}', async () => {
      const bytes = media.webm(50_000);
      const res = await t.http
        .post('/video/uploadVideo')
        .set('Authorization', auth(alice))
        .attach('file', bytes, { filename: '../../etc/passwd', contentType: 'text/plain' })
        .expect(200);
      expect(res.body.url).toMatch(URL_RE('videos', 'webm'));
      expect(res.body.play_url).toBe(res.body.url);
      const rows = await t.sql<{ account_id: number; kind: string; size: number; content_type: string }>(
        'SELECT account_id, kind, size, content_type FROM uploads WHERE storage_key = ?',
        [res.body.url.slice('/static/'.length)],
      );
      expect(rows.map((r) => ({ ...r, account_id: Number(r.account_id), size: Number(r.size) }))).toEqual([
        { account_id: alice.id, kind: 'video', size: 50_000, content_type: 'video/webm' },
      ]);
      const file = await t.http.get(res.body.url).buffer(true).expect(200);
      expect(file.headers['content-type']).toBe('video/webm');
      expect(file.headers['x-content-type-options']).toBe('nosniff');
      expect(file.headers['accept-ranges']).toBe('bytes');
      expect(Buffer.compare(file.body as Buffer, bytes)).toBe(0);
    });

    it('uploadVideo accepts an MP4 (ftyp box), whatever the file is called', async () => {
      const res = await t.http
        .post('/api/video/uploadVideo')
        .set('Authorization', auth(alice))
        .attach('file', media.mp4(), { filename: 'movie.webm' })
        .expect(200);
      expect(res.body.url).toMatch(URL_RE('videos', 'mp4'));
      const head = await t.http.head(res.body.url).expect(200);
      expect(head.headers['content-type']).toBe('video/mp4');
    });

    it.each([
      ['png', media.png()],
      ['jpg', media.jpg()],
      ['webp', media.webp()],
    ])('uploadCover accepts a %s and returns {url, cover_url}', async (ext, bytes) => {
      const res = await t.http
        .post('/video/uploadCover')
        .set('Authorization', auth(alice))
        .attach('file', bytes, { filename: 'cover.bin' })
        .expect(200);
      expect(res.body.url).toMatch(URL_RE('covers', ext));
      expect(res.body.cover_url).toBe(res.body.url);
      const file = await t.http.get(res.body.url).buffer(true).expect(200);
      expect(file.headers['content-type']).toBe(
        { png: 'image/png', jpg: 'image/jpeg', webp: 'image/webp' }[ext as 'png'],
      );
    });

    it("uploadAvatar returns {avatar_url} recorded as the caller's own upload", async () => {
      const res = await t.http
        .post('/account/uploadAvatar')
        .set('Authorization', auth(bob))
        .attach('file', media.jpg(), { filename: 'me.jpg' })
        .expect(200);
      expect(Object.keys(res.body)).toEqual(['avatar_url']);
      expect(res.body.avatar_url).toMatch(URL_RE('avatars', 'jpg'));
      // updateProfile accepts it as one of bob's own uploads, and refuses it for alice
      const updated = await t.http
        .post('/account/updateProfile')
        .set('Authorization', auth(bob))
        .send({ avatar_url: res.body.avatar_url })
        .expect(200);
      expect(updated.body.avatar_url).toBe(res.body.avatar_url);
      expectError(
        await t.http
          .post('/account/updateProfile')
          .set('Authorization', auth(alice))
          .send({ avatar_url: res.body.avatar_url }),
        400,
        'VALIDATION_FAILED',
      );
      const rows = await t.sql<{ account_id: number; kind: string }>(
        'SELECT account_id, kind FROM uploads WHERE storage_key = ?',
        [res.body.avatar_url.slice('/static/'.length)],
      );
      expect(rows.map((r) => [Number(r.account_id), r.kind])).toEqual([[bob.id, 'avatar']]);
    });

    it('the Bearer scheme is matched without regard to case', async () => {
      await t.http
        .post('/video/uploadCover')
        .set('Authorization', `bEaReR ${alice.token}`)
        .attach('file', media.png(), { filename: 'c.png' })
        .expect(200);
    });
  });

  describe('Range requests on /static', () => {
    let url: string;
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    beforeAll(async () => {
      bytes.set([0x1a, 0x45, 0xdf, 0xa3], 0);
      const res = await t.http
        .post('/video/uploadVideo')
        .set('Authorization', auth(alice))
        .attach('file', bytes, { filename: 'v.webm' })
        .expect(200);
      url = res.body.url as string;
    });

    it('bytes=a-b is a 206 with Content-Range and exactly those bytes', async () => {
      const res = await t.http.get(url).set('Range', 'bytes=10-19').buffer(true).expect(206);
      expect(res.headers['content-range']).toBe('bytes 10-19/1000');
      expect(res.headers['content-length']).toBe('10');
      expect(res.headers['content-type']).toBe('video/webm');
      expect(Buffer.compare(res.body as Buffer, bytes.subarray(10, 20))).toBe(0);
    });

    it('open-ended and suffix ranges', async () => {
      const tail = await t.http.get(url).set('Range', 'bytes=990-').buffer(true).expect(206);
      expect(tail.headers['content-range']).toBe('bytes 990-999/1000');
      expect(Buffer.compare(tail.body as Buffer, bytes.subarray(990))).toBe(0);
      const suffix = await t.http.get(url).set('Range', 'bytes=-5').buffer(true).expect(206);
      expect(suffix.headers['content-range']).toBe('bytes 995-999/1000');
      const clamped = await t.http.get(url).set('Range', 'bytes=900-5000').buffer(true).expect(206);
      expect(clamped.headers['content-range']).toBe('bytes 900-999/1000');
    });

    it.each(['bytes=1000-', 'bytes=2000-3000', 'bytes=50-10', 'bytes=abc', 'items=0-1', 'bytes=-0'])(
      'an unsatisfiable or malformed range (%s) is a 416 naming the size',
      async (range) => {
        const res = await t.http.get(url).set('Range', range).expect(416);
        expect(res.headers['content-range']).toBe('bytes */1000');
      },
    );

    it('also under /api/static, and HEAD', async () => {
      await t.http.get(`/api${url}`).expect(200);
      const head = await t.http.head(url).expect(200);
      expect(head.headers['content-length']).toBe('1000');
    });

    it('unknown files and paths outside the store are 404', async () => {
      await t.http.get('/static/videos/2020/01/00000000000000000000000000000000.webm').expect(404);
      await t.http.get('/static/../../package.json').expect((r) => expect([400, 404]).toContain(r.status));
      await t.http.get('/static/%2e%2e/%2e%2e/package.json').expect(404);
      await t.http.get('/static/jwt-secret').expect(404);
    });
  });

  describe('errors', () => {
    it('wrong content behind a right extension is a 415, and nothing is kept', async () => {
      const before = storedFiles(t).length;
      const rowsBefore = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM uploads');
      expectError(
        await t.http
          .post('/video/uploadVideo')
          .set('Authorization', auth(alice))
          .attach('file', media.png(), { filename: 'clip.mp4', contentType: 'video/mp4' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      expectError(
        await t.http
          .post('/video/uploadCover')
          .set('Authorization', auth(alice))
          .attach('file', media.text(), { filename: 'cover.jpg', contentType: 'image/jpeg' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      expectError(
        await t.http
          .post('/account/uploadAvatar')
          .set('Authorization', auth(alice))
          .attach('file', media.mp4(), { filename: 'me.png', contentType: 'image/png' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      expectError(
        await t.http
          .post('/video/uploadCover')
          .set('Authorization', auth(alice))
          .attach('file', Buffer.from([0xff, 0xd8]), { filename: 'tiny.jpg' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      expect(storedFiles(t).length).toBe(before);
      expect(await t.sql('SELECT COUNT(*) AS n FROM uploads')).toEqual(rowsBefore);
    });

    it('a missing file is a 400', async () => {
      const onlyField = await t.http
        .post('/video/uploadVideo')
        .set('Authorization', auth(alice))
        .field('title', 'no file here');
      expect(expectError(onlyField, 400, 'VALIDATION_FAILED').details?.[0]?.field).toBe('file');
      const wrongName = await t.http
        .post('/video/uploadCover')
        .set('Authorization', auth(alice))
        .attach('image', media.png(), { filename: 'c.png' });
      expectError(wrongName, 400, 'VALIDATION_FAILED');
      const json = await t.http.post('/video/uploadCover').set('Authorization', auth(alice)).send({});
      expectError(json, 400, 'VALIDATION_FAILED');
    });

    it('no token, a bad token or a revoked token is a 401', async () => {
      const anonymous = await t.http
        .post('/video/uploadVideo')
        .attach('file', media.webm(), { filename: 'v.webm' });
      expectError(anonymous, 401, 'UNAUTHENTICATED', 'missing authorization header');
      expect(anonymous.headers.connection).toBe('close');
      expectError(
        await t.http
          .post('/video/uploadCover')
          .set('Authorization', 'Token abc')
          .attach('file', media.png(), { filename: 'c.png' }),
        401,
        'UNAUTHENTICATED',
        'invalid authorization header',
      );
      expectError(
        await t.http
          .post('/account/uploadAvatar')
          .set(
            'Authorization',
            `Bearer ${sign({ account_id: alice.id, username: 'x' }, 'not-the-secret-not-the-secret-00')}`,
          )
          .attach('file', media.png(), { filename: 'c.png' }),
        401,
        'UNAUTHENTICATED',
        'invalid or expired token',
      );
      const carol = await makeAccount(t, 'carol_up');
      await t.http.post('/account/logout').set('Authorization', auth(carol)).send({}).expect(200);
      expectError(
        await t.http
          .post('/video/uploadCover')
          .set('Authorization', auth(carol))
          .attach('file', media.png(), { filename: 'c.png' }),
        401,
        'UNAUTHENTICATED',
        'token has been revoked',
      );
    });

    it('a file over the limit is a 413 and nothing is kept', async () => {
      const before = storedFiles(t).length;
      const res = await t.http
        .post('/video/uploadCover')
        .set('Authorization', auth(alice))
        .attach('file', media.png(10 * MiB + 1), { filename: 'big.png' })
        .catch((e: { response?: { status: number; body: unknown } }) => e.response);
      expectError(res!, 413, 'PAYLOAD_TOO_LARGE');
      expect(storedFiles(t).length).toBe(before);
      // exactly at the limit is fine
      await t.http
        .post('/video/uploadCover')
        .set('Authorization', auth(alice))
        .attach('file', media.png(10 * MiB), { filename: 'ok.png' })
        .expect(200);
    });

    it('a too-large upload is cut off early: answered and closed long before the body is sent', async () => {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = t.app.getHttpServer().address() as AddressInfo;
      const before = storedFiles(t).length;
      const declared = 200 * MiB;
      const r = await rawUpload(port, '/account/uploadAvatar', alice.token, media.png(16), declared);
      expect(r.head).toMatch(/^HTTP\/1\.1 413/);
      expect(r.head.toLowerCase()).toContain('connection: close');
      // The server stopped after ~10 MiB: the response came, and the socket closed, far before 200 MiB.
      expect(r.sentAtResponse).toBeGreaterThan(10 * MiB);
      expect(r.sentAtResponse).toBeLessThan(64 * MiB);
      expect(r.closed).toBe(true);
      expect(r.totalSent).toBeLessThan(declared);
      expect(storedFiles(t).length).toBe(before);
    });
  });
});
