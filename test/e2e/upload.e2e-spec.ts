import { Logger } from '@nestjs/common';
import { createHash, createHmac } from 'node:crypto';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ChunkUploadService, FILE_STORAGE, UploadService } from '@app/storage';
import type { FileStorage } from '@app/storage';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { STORAGE_PROFILES, storedKeys } from '../helpers/stored-files';
import { until } from '../helpers/wait';
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

/** Every stored file (on disk, temp files included; or every object in the bucket). */
const storedFiles = (t: TestApp): Promise<string[]> => storedKeys(t);

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

describe.each(STORAGE_PROFILES)('uploads (%s)', (_label, profile, storage) => {
  let t: TestApp;
  let alice: { id: number; token: string };
  let bob: { id: number; token: string };

  beforeAll(async () => {
    t = await startApp(profile, { s3: storage === 's3' });
    alice = await makeAccount(t, 'alice_up');
    bob = await makeAccount(t, 'bob_up');
  });
  afterAll(async () => {
    await t?.close();
  });

  const auth = (who: { token: string }) => `Bearer ${who.token}`;
  /** The port of the app's real socket (raw-socket tests), listening from the first call. */
  const port = async (): Promise<number> => {
    if (!t.app.getHttpServer().listening) await t.app.listen({ port: 0, host: '127.0.0.1' });
    return (t.app.getHttpServer().address() as AddressInfo).port;
  };

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
      media.ebml('webm').copy(bytes, 0);
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

    it.each(['bytes=1000-', 'bytes=2000-3000', 'bytes=-0', 'BYTES=5000-'])(
      'an unsatisfiable range (%s) is a 416 naming the size',
      async (range) => {
        const res = await t.http.get(url).set('Range', range).expect(416);
        expect(res.headers['content-range']).toBe('bytes */1000');
      },
    );

    it.each(['items=0-1', 'bytes=5-3', 'bytes=50-10', 'bytes=abc', 'bytes=-', 'bytes=0-1,5-6', 'bytes 0-1'])(
      'a range in another unit, invalid or multiple (%s) is ignored: 200 with the whole file (RFC 9110 §14.2)',
      async (range) => {
        const res = await t.http.get(url).set('Range', range).buffer(true).expect(200);
        expect(res.headers['content-range']).toBeUndefined();
        expect(res.headers['content-length']).toBe('1000');
        expect(Buffer.compare(res.body as Buffer, bytes)).toBe(0);
      },
    );

    it('the unit is matched without regard to case', async () => {
      const res = await t.http.get(url).set('Range', 'Bytes=0-3').buffer(true).expect(206);
      expect(res.headers['content-range']).toBe('bytes 0-3/1000');
    });

    it('every answer carries a strong ETag and Last-Modified, and an hour of caching (files are deleted with their video)', async () => {
      const res = await t.http.get(url).expect(200);
      expect(res.headers.etag).toMatch(/^"[^"]+"$/);
      expect(new Date(res.headers['last-modified']).toUTCString()).toBe(res.headers['last-modified']);
      expect(res.headers['cache-control']).toBe('public, max-age=3600');
      const again = await t.http.get(url).expect(200);
      expect(again.headers.etag).toBe(res.headers.etag);
    });

    it('If-None-Match with the ETag (weak or strong, in a list, or *) is a 304 without a body', async () => {
      const { headers } = await t.http.get(url).expect(200);
      const etag = headers.etag;
      for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
        const res = await t.http.get(url).set('If-None-Match', inm).buffer(true).expect(304);
        expect(res.headers.etag).toBe(etag);
        expect(res.headers['last-modified']).toBe(headers['last-modified']);
        expect(res.headers['content-range']).toBeUndefined();
        expect((res.body as Buffer).length ?? 0).toBe(0);
      }
      const head = await t.http.head(url).set('If-None-Match', etag);
      expect(head.status).toBe(304);
      const other = await t.http.get(url).set('If-None-Match', '"something-else"').buffer(true).expect(200);
      expect(Buffer.compare(other.body as Buffer, bytes)).toBe(0);
    });

    it('If-Modified-Since at or after Last-Modified is a 304, before it a 200; If-None-Match takes precedence', async () => {
      const { headers } = await t.http.get(url).expect(200);
      const lm = headers['last-modified'];
      await t.http.get(url).set('If-Modified-Since', lm).expect(304);
      await t.http
        .get(url)
        .set('If-Modified-Since', new Date(Date.now() + 60_000).toUTCString())
        .expect(304);
      await t.http
        .get(url)
        .set('If-Modified-Since', new Date(Date.parse(lm) - 1000).toUTCString())
        .expect(200);
      await t.http.get(url).set('If-Modified-Since', 'not a date').expect(200);
      // A mismatching If-None-Match wins over a matching If-Modified-Since (RFC 9110 §13.2.2).
      await t.http.get(url).set('If-None-Match', '"other"').set('If-Modified-Since', lm).expect(200);
    });

    it('If-Range: the range is served only while the validator matches, else the whole file', async () => {
      const { headers } = await t.http.get(url).expect(200);
      const etag = headers.etag;
      const partial = await t.http.get(url).set('Range', 'bytes=0-9').set('If-Range', etag).expect(206);
      expect(partial.headers['content-range']).toBe('bytes 0-9/1000');
      await t.http.get(url).set('Range', 'bytes=0-9').set('If-Range', headers['last-modified']).expect(206);
      for (const stale of ['"other"', `W/${etag}`, 'Sat, 01 Jan 2000 00:00:00 GMT']) {
        const full = await t.http
          .get(url)
          .set('Range', 'bytes=0-9')
          .set('If-Range', stale)
          .buffer(true)
          .expect(200);
        expect(full.headers['content-length']).toBe('1000');
      }
    });

    it('also under /api/static, and HEAD', async () => {
      await t.http.get(`/api${url}`).expect(200);
      const head = await t.http.head(url).expect(200);
      expect(head.headers['content-length']).toBe('1000');
    });

    it('HEAD answers from the stat alone (the file is never opened), with the status and headers a GET gets', async () => {
      const storage = t.app.get<FileStorage>(FILE_STORAGE);
      const stat = jest.spyOn(storage, 'stat');
      const open = jest.spyOn(storage, 'open');
      const read = jest.spyOn(storage, 'read');
      try {
        const get = await t.http.get(url).expect(200);
        stat.mockClear();
        read.mockClear();
        const head = await t.http.head(url).expect(200);
        for (const h of [
          'content-length',
          'content-type',
          'etag',
          'last-modified',
          'accept-ranges',
          'cache-control',
        ]) {
          expect([h, head.headers[h]]).toEqual([h, get.headers[h]]);
        }
        const partial = await t.http.head(url).set('Range', 'bytes=10-19').expect(206);
        expect(partial.headers['content-range']).toBe('bytes 10-19/1000');
        expect(partial.headers['content-length']).toBe('10');
        const past = await t.http.head(url).set('Range', 'bytes=1000-').expect(416);
        expect(past.headers['content-range']).toBe('bytes */1000');
        expect(stat).toHaveBeenCalledTimes(3);
        expect(open).not.toHaveBeenCalled();
        expect(read).not.toHaveBeenCalled();
      } finally {
        jest.restoreAllMocks();
      }
    });

    it('a GET, ranged or not, opens the file once and takes its size and validators from it (no separate stat)', async () => {
      const storage = t.app.get<FileStorage>(FILE_STORAGE);
      const stat = jest.spyOn(storage, 'stat');
      const read = jest.spyOn(storage, 'read');
      try {
        const whole = await t.http.get(url).buffer(true).expect(200);
        expect(Buffer.compare(whole.body as Buffer, bytes)).toBe(0);
        const part = await t.http.get(url).set('Range', 'bytes=996-').buffer(true).expect(206);
        expect(Buffer.compare(part.body as Buffer, bytes.subarray(996))).toBe(0);
        await t.http.get(url).set('Range', 'bytes=1000-').expect(416);
        expect(read).toHaveBeenCalledTimes(3);
        // 416 on S3 asks for the size the answer names; nothing else does.
        expect(stat.mock.calls.length).toBe(storage.constructor.name === 'S3FileStorage' ? 1 : 0);
        expect(whole.headers.etag).toMatch(/^"[^"]+"$/);
      } finally {
        jest.restoreAllMocks();
      }
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
      const before = (await storedFiles(t)).length;
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
      expect((await storedFiles(t)).length).toBe(before);
      expect(await t.sql('SELECT COUNT(*) AS n FROM uploads')).toEqual(rowsBefore);
    });

    it.each(Object.keys(media.lookAlikes))(
      'content that only looks like MP4 or WebM (%s) is a 415 for a video, and nothing is kept',
      async (name) => {
        const before = (await storedFiles(t)).length;
        const res = await t.http
          .post('/video/uploadVideo')
          .set('Authorization', auth(alice))
          .attach('file', media.lookAlikes[name](), { filename: 'clip.mp4', contentType: 'video/mp4' });
        expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported file type: send an MP4 or WebM video');
        expect((await storedFiles(t)).length).toBe(before);
      },
    );

    it.each(['heic', 'avif'])('%s images are a 415 as covers too (JPEG, PNG or WebP only)', async (name) => {
      expectError(
        await t.http
          .post('/video/uploadCover')
          .set('Authorization', auth(alice))
          .attach('file', media.lookAlikes[name](), { filename: 'cover.jpg' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
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

    it('a form that ends without its closing boundary is a 400 at once on every upload route, and nothing is kept', async () => {
      const listening = await port();
      const before = await storedFiles(t);
      const boundary = 'openform';
      const files: [string, Buffer][] = [
        ['/video/uploadVideo', media.ebml('webm')],
        ['/video/uploadCover', media.png()],
        ['/account/uploadAvatar', media.png()],
      ];
      for (const [path, bytes] of files) {
        // The whole request in one write: the server has parsed the form before the route reads it.
        const body = Buffer.concat([
          Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n`),
          bytes.subarray(0, 64),
        ]);
        const answer = await new Promise<string>((resolve, reject) => {
          let got = '';
          const sock = connect(listening, '127.0.0.1', () =>
            sock.write(
              Buffer.concat([
                Buffer.from(
                  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth(alice)}\r\n` +
                    `Content-Type: multipart/form-data; boundary=${boundary}\r\n` +
                    `Content-Length: ${body.length}\r\n\r\n`,
                ),
                body,
              ]),
            ),
          );
          const timer = setTimeout(
            () => (sock.destroy(), reject(new Error(`${path}: no answer in 5 s`))),
            5000,
          );
          sock.on('data', (d: Buffer) => {
            got += d.toString();
            if (!got.includes('\r\n\r\n') || !got.trimEnd().endsWith('}')) return;
            clearTimeout(timer);
            sock.destroy();
            resolve(got);
          });
          sock.on('error', reject);
        });
        expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
        expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
          code: 'VALIDATION_FAILED',
          error: 'malformed multipart body',
        });
      }
      expect(await storedFiles(t)).toEqual(before);
    });

    it('no token, a bad token or a revoked token is a 401', async () => {
      const anonymous = await t.http
        .post('/video/uploadVideo')
        .attach('file', media.webm(), { filename: 'v.webm' });
      expectError(anonymous, 401, 'UNAUTHENTICATED', 'missing authorization header');
      // superagent streams a multipart body without a Content-Length: unknown length, cut off.
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
      const before = (await storedFiles(t)).length;
      const res = await t.http
        .post('/video/uploadCover')
        .set('Authorization', auth(alice))
        .attach('file', media.png(10 * MiB + 1), { filename: 'big.png' })
        .catch((e: { response?: { status: number; body: unknown } }) => e.response);
      expectError(res!, 413, 'PAYLOAD_TOO_LARGE');
      expect((await storedFiles(t)).length).toBe(before);
      // exactly at the limit is fine
      await t.http
        .post('/video/uploadCover')
        .set('Authorization', auth(alice))
        .attach('file', media.png(10 * MiB), { filename: 'ok.png' })
        .expect(200);
    });

    it('a multipart limit other than the file size is named in its answer (not "file is larger than …")', async () => {
      const fields = (route: string) => {
        const req = t.http.post(route).set('Authorization', auth(alice));
        for (let i = 0; i < 11; i++) void req.field(`f${i}`, 'x');
        return req.attach('file', media.png(), { filename: 'c.png' });
      };
      for (const route of ['/video/uploadCover', '/video/chunk/upload']) {
        expectError(await fields(route), 413, 'PAYLOAD_TOO_LARGE', 'too many fields in the multipart body');
      }
      // a field longer than 1 KiB is named
      const init = await t.http
        .post('/video/chunk/init')
        .set('Authorization', auth(alice))
        .send({
          filename: 'f.webm',
          file_size: 100,
          chunk_size: 64 * 1024,
          total_chunks: 1,
          file_hash: 'a'.repeat(32),
        })
        .expect(200);
      const long = await t.http
        .post('/video/chunk/upload')
        .set('Authorization', auth(alice))
        .field('upload_id', init.body.upload_id as string)
        .field('chunk_index', '0')
        .field('chunk_hash', 'a'.repeat(2000))
        .attach('file', media.webm(100), 'f');
      expect(expectError(long, 400, 'VALIDATION_FAILED').details).toEqual([
        { field: 'chunk_hash', message: 'chunk_hash is longer than 1024 bytes' },
      ]);
      // the file-size limit keeps its own message
      const big = await t.http
        .post('/account/uploadAvatar')
        .set('Authorization', auth(alice))
        .attach('file', media.png(10 * MiB + 1), { filename: 'big.png' })
        .catch((e: { response?: { status: number; body: unknown } }) => e.response);
      expectError(big!, 413, 'PAYLOAD_TOO_LARGE', 'file is larger than 10 MiB');
    });

    it('a client that disconnects mid-upload is its own abort: no error logged (no error id), nothing stored', async () => {
      const listening = await port();
      const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
      const file = media.webm(256 * 1024);
      const init = await t.http
        .post('/video/chunk/init')
        .set('Authorization', auth(alice))
        .send({
          filename: 'cut.webm',
          file_size: file.length,
          chunk_size: file.length,
          total_chunks: 1,
          file_hash: md5(file),
        })
        .expect(200);
      const before = await storedFiles(t);
      const partsBefore = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM upload_parts');
      const errors = jest.spyOn(Logger.prototype, 'error');
      const logs = jest.spyOn(Logger.prototype, 'log');
      const store = jest.spyOn(t.app.get(UploadService), 'store');
      const storePart = jest.spyOn(t.app.get(ChunkUploadService), 'storePart');
      /**
       * Sends the headers, the text fields and part of the file, waits until the request has
       * reached its service (`reached` called), then drops the connection.
       */
      const cutOff = async (
        path: string,
        fields: Record<string, string>,
        head: Buffer,
        reached: jest.SpyInstance,
      ) => {
        const boundary = 'cutboundary9b1e';
        const text = Object.entries(fields)
          .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
          .join('');
        const pre = Buffer.from(
          `${text}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n` +
            'Content-Type: application/octet-stream\r\n\r\n',
        );
        const sock = connect(listening, '127.0.0.1');
        await new Promise((r) => sock.once('connect', r));
        sock.write(
          `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${alice.token}\r\n` +
            `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${pre.length + file.length + 64}\r\n\r\n`,
        );
        sock.write(pre);
        sock.write(head);
        await until(() => reached.mock.calls.length > 0, 10_000);
        sock.destroy();
      };
      try {
        await cutOff('/video/uploadVideo', {}, file.subarray(0, 100 * 1024), store);
        await cutOff(
          '/video/chunk/upload',
          { upload_id: init.body.upload_id as string, chunk_index: '0', chunk_hash: md5(file) },
          file.subarray(0, 100 * 1024),
          storePart,
        );
        // Both requests reached their service, and failed there.
        for (const spy of [store, storePart]) {
          expect(spy).toHaveBeenCalledTimes(1);
          await expect(spy.mock.results[0].value).rejects.toBeDefined();
        }
        const cutOffLogs = () =>
          logs.mock.calls.map((c) => String(c[0])).filter((m) => m.startsWith('upload cut off'));
        await until(() => cutOffLogs().length >= 2 || errors.mock.calls.length > 0, 10_000);
        await new Promise((r) => setTimeout(r, 200)); // anything logged just after
        expect(errors.mock.calls.map((c) => String(c[0]))).toEqual([]);
        expect(cutOffLogs()).toHaveLength(2);
      } finally {
        jest.restoreAllMocks();
      }
      expect(await storedFiles(t)).toEqual(before);
      expect(await t.sql('SELECT COUNT(*) AS n FROM upload_parts')).toEqual(partsBefore);
    });

    it('a small refused upload is drained: a client still writing its body gets no reset, and the connection serves the next request', async () => {
      const boundary = 'smallrefused1';
      const body = Buffer.concat([
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.png"\r\nContent-Type: image/png\r\n\r\n`,
        ),
        media.png(200 * 1024),
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const sock = connect(await port(), '127.0.0.1');
      let received = '';
      const errors: Error[] = [];
      sock.on('data', (d) => (received += d.toString('latin1')));
      sock.on('error', (e) => errors.push(e));
      const waitFor = async (re: RegExp) => {
        for (let i = 0; i < 200 && !re.test(received); i++) await new Promise((r) => setTimeout(r, 25));
      };
      await new Promise<void>((r) => sock.once('connect', () => r()));
      // Headers first, then the body only after the 401 came (a slow client, or one that streams).
      sock.write(
        `POST /video/uploadCover HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
          `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      await waitFor(/^HTTP\/1\.1 401[\s\S]*\r\n\r\n\{[\s\S]*\}/);
      expect(received).toMatch(/^HTTP\/1\.1 401/);
      expect(received.toLowerCase()).not.toContain('connection: close');
      await new Promise<void>((r, j) => sock.write(body, (e) => (e ? j(e) : r())));
      sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await waitFor(/HTTP\/1\.1 200/);
      sock.destroy();
      expect(errors).toEqual([]);
      expect(received).toMatch(/HTTP\/1\.1 200/);
    });

    it('a too-large upload is cut off early: answered and closed long before the body is sent', async () => {
      const before = (await storedFiles(t)).length;
      const declared = 200 * MiB;
      const r = await rawUpload(await port(), '/account/uploadAvatar', alice.token, media.png(16), declared);
      expect(r.head).toMatch(/^HTTP\/1\.1 413/);
      expect(r.head.toLowerCase()).toContain('connection: close');
      // The server stopped after ~10 MiB: the response came, and the socket closed, far before 200 MiB.
      expect(r.sentAtResponse).toBeGreaterThan(10 * MiB);
      expect(r.sentAtResponse).toBeLessThan(64 * MiB);
      expect(r.closed).toBe(true);
      expect(r.totalSent).toBeLessThan(declared);
      expect((await storedFiles(t)).length).toBe(before);
    });
  });
});
