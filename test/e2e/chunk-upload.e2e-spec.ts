import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { Response } from 'supertest';
import { UploadJanitor } from '@app/storage';
import { createAccount, TestAccount } from '../factories/accounts';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { STORAGE_PROFILES, storedKeys } from '../helpers/stored-files';
import { until } from '../helpers/wait';
import * as media from '../fixtures/media-fixtures';
import { SpoolSlots } from '../../apps/api/src/upload/spooled-part';

jest.setTimeout(120_000);

const KiB = 1024;
const CHUNK = 64 * KiB;
const HOUR = 3600_000;
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const VIDEO_URL = /^\/static\/videos\/\d{4}\/\d{2}\/[0-9a-f]{32}\.(webm|mp4)$/;

/** A WebM of `size` bytes whose body is random, so every file (and hash) is new. */
function video(size: number, head: Buffer = media.ebml('webm')): Buffer {
  const b = randomBytes(size);
  head.copy(b, 0);
  return b;
}

const partOf = (file: Buffer, i: number, chunk = CHUNK): Buffer => file.subarray(i * chunk, (i + 1) * chunk);

describe.each(STORAGE_PROFILES)('chunked uploads (%s)', (_label, profile, storage) => {
  let t: TestApp;
  let alice: TestAccount;
  let bob: TestAccount;
  let port: number;

  beforeAll(async () => {
    t = await startApp(profile, { s3: storage === 's3' });
    alice = await createAccount(t, 'chunk_a');
    bob = await createAccount(t, 'chunk_b');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.getHttpServer().address() as AddressInfo).port;
  });
  afterAll(async () => {
    await t?.close();
  });

  const init = (who: TestAccount | null, body: Record<string, unknown>) => {
    const req = t.http.post('/video/chunk/init');
    if (who) void req.set('Authorization', who.auth);
    return req.send(body);
  };
  const initFile = async (who: TestAccount, file: Buffer, chunk = CHUNK): Promise<string> => {
    const res = await init(who, {
      filename: 'clip.webm',
      file_size: file.length,
      chunk_size: chunk,
      total_chunks: Math.ceil(file.length / chunk),
      file_hash: md5(file),
    }).expect(200);
    expect(res.body.uploaded_chunks).toEqual([]);
    return res.body.upload_id as string;
  };
  const putPart = (
    who: TestAccount | null,
    uploadId: string,
    index: number | string,
    bytes: Buffer,
    hash: string = md5(bytes),
  ) => {
    const req = t.http.post('/video/chunk/upload');
    if (who) void req.set('Authorization', who.auth);
    return req
      .field('upload_id', uploadId)
      .field('chunk_index', String(index))
      .field('chunk_hash', hash)
      .attach('file', bytes, { filename: `chunk_${index}`, contentType: 'application/octet-stream' });
  };
  const uploadAll = async (who: TestAccount, uploadId: string, file: Buffer, chunk = CHUNK) => {
    for (let i = 0; i * chunk < file.length; i++)
      await putPart(who, uploadId, i, partOf(file, i, chunk)).expect(200);
  };
  const status = (who: TestAccount | null, body: unknown) => {
    const req = t.http.post('/video/chunk/status');
    if (who) void req.set('Authorization', who.auth);
    return req.send(body as object);
  };
  const complete = (who: TestAccount | null, body: unknown) => {
    const req = t.http.post('/video/chunk/complete');
    if (who) void req.set('Authorization', who.auth);
    return req.send(body as object);
  };
  const partRows = async (uploadId: string): Promise<number[]> =>
    (
      await t.sql<{ chunk_index: number }>(
        `SELECT p.chunk_index FROM upload_parts p JOIN upload_sessions s ON s.id = p.session_id
         WHERE s.upload_id = ? ORDER BY p.chunk_index`,
        [uploadId],
      )
    ).map((r) => Number(r.chunk_index));
  /** Files (temporaries included) under the session's parts folder, or objects under its prefix. */
  const partFiles = (uploadId: string): Promise<string[]> => storedKeys(t, `parts/${uploadId}/`);
  const sessionRow = async (uploadId: string) =>
    (
      await t.sql<{ status: number; expires_at: number; account_id: number }>(
        'SELECT status, expires_at, account_id FROM upload_sessions WHERE upload_id = ?',
        [uploadId],
      )
    )[0];
  /** Ends every open session of the account (so the 5-session cap does not leak between tests). */
  const closeOpenSessions = async (who: TestAccount) =>
    t.sql('UPDATE upload_sessions SET status = 2 WHERE account_id = ? AND status = 0', [who.id]);

  afterEach(async () => {
    await closeOpenSessions(alice);
    await closeOpenSessions(bob);
  });

  describe('happy path', () => {
    it('init → parts → status → complete: one video upload, usable in /video/publish; parts deleted; a second complete answers the same URL', async () => {
      const file = video(2 * CHUNK + 1000);
      const id = await initFile(alice, file);
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      const first = await putPart(alice, id, 0, partOf(file, 0)).expect(200);
      expect(first.body).toEqual({ chunk_index: 0 });
      await putPart(alice, id, 2, partOf(file, 2)).expect(200);
      expect((await status(alice, { upload_id: id }).expect(200)).body).toEqual({
        upload_id: id,
        uploaded_chunks: [0, 2],
        total_chunks: 3,
      });
      await putPart(alice, id, 1, partOf(file, 1)).expect(200);
      expect(await partFiles(id)).toHaveLength(3);

      const done = await complete(alice, { upload_id: id }).expect(200);
      expect(Object.keys(done.body).sort()).toEqual(['play_url', 'url']);
      expect(done.body.url).toMatch(VIDEO_URL);
      expect(done.body.play_url).toBe(done.body.url);
      const served = await t.http
        .get(done.body.url as string)
        .buffer(true)
        .expect(200);
      expect(served.headers['content-type']).toBe('video/webm');
      expect(md5(served.body as Buffer)).toBe(md5(file));

      const key = (done.body.url as string).slice('/static/'.length);
      const rows = await t.sql<{ account_id: number; kind: string; size: number }>(
        'SELECT account_id, kind, size FROM uploads WHERE storage_key = ?',
        [key],
      );
      expect(rows.map((r) => [Number(r.account_id), r.kind, Number(r.size)])).toEqual([
        [alice.id, 'video', file.length],
      ]);
      expect(await partRows(id)).toEqual([]);
      expect(await partFiles(id)).toEqual([]);
      expect(Number((await sessionRow(id)).status)).toBe(1);

      const again = await complete(alice, { upload_id: id }).expect(200);
      expect(again.body).toEqual(done.body);
      expect((await status(alice, { upload_id: id }).expect(200)).body.uploaded_chunks).toEqual([0, 1, 2]);
      // a part re-sent after completion changes nothing
      await putPart(alice, id, 1, partOf(file, 1)).expect(200);
      expect(await partFiles(id)).toEqual([]);

      const published = await t.http
        .post('/video/publish')
        .set('Authorization', alice.auth)
        .send({ title: 'chunked', play_url: done.body.play_url, cover_url: '/static/covers/x.jpg' })
        .expect(200);
      expect(published.body.play_url).toBe(done.body.url);
    });

    it('answers under /api too, and a one-part file works (a file smaller than chunk_size)', async () => {
      const file = video(5000);
      const res = await t.http
        .post('/api/video/chunk/init')
        .set('Authorization', alice.auth)
        .send({
          filename: 'a.webm',
          file_size: 5000,
          chunk_size: 5 * 1024 * 1024,
          total_chunks: 1,
          file_hash: md5(file),
        })
        .expect(200);
      const id = res.body.upload_id as string;
      await t.http
        .post('/api/video/chunk/upload')
        .set('Authorization', alice.auth)
        .field('upload_id', id)
        .field('chunk_index', '0')
        .field('chunk_hash', md5(file).toUpperCase())
        .attach('file', file, 'blob')
        .expect(200);
      const done = await t.http
        .post('/api/video/chunk/complete')
        .set('Authorization', alice.auth)
        .send({ upload_id: id })
        .expect(200);
      expect(done.body.url).toMatch(VIDEO_URL);
    });

    it('an MP4 assembles as video/mp4', async () => {
      const file = video(CHUNK + 10, media.mp4(64));
      const id = await initFile(alice, file);
      await uploadAll(alice, id, file);
      const done = await complete(alice, { upload_id: id }).expect(200);
      expect(done.body.url).toMatch(/\.mp4$/);
    });
  });

  describe('concurrency', () => {
    it('10 parts uploaded at once are all kept (one row each, no lost update)', async () => {
      const file = video(10 * CHUNK);
      const id = await initFile(alice, file);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => putPart(alice, id, i, partOf(file, i))),
      );
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
      expect((await status(alice, { upload_id: id }).expect(200)).body.uploaded_chunks).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
      ]);
      expect(await partRows(id)).toHaveLength(10);
      const done = await complete(alice, { upload_id: id }).expect(200);
      const served = await t.http
        .get(done.body.url as string)
        .buffer(true)
        .expect(200);
      expect(md5(served.body as Buffer)).toBe(md5(file));
    });

    it('the same index sent 5 times at once: all 200, one part kept, no stray file', async () => {
      const file = video(2 * CHUNK);
      const id = await initFile(alice, file);
      const results = await Promise.all(
        Array.from({ length: 5 }, () => putPart(alice, id, 1, partOf(file, 1))),
      );
      expect(results.map((r) => r.status)).toEqual(Array(5).fill(200));
      expect(await partRows(id)).toEqual([1]);
      expect(await partFiles(id)).toHaveLength(1);
    });

    it('two completes at once both answer the same URL, and only one upload is recorded', async () => {
      const file = video(3 * CHUNK);
      const id = await initFile(alice, file);
      await uploadAll(alice, id, file);
      const [a, b] = await Promise.all([
        complete(alice, { upload_id: id }),
        complete(alice, { upload_id: id }),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(a.body.url).toBe(b.body.url);
      const rows = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM uploads WHERE storage_key = ?', [
        (a.body.url as string).slice('/static/'.length),
      ]);
      expect(Number(rows[0].n)).toBe(1);
    });
  });

  describe('resume', () => {
    it('the same account, file_hash, file_size and chunk_size get the same upload_id and the stored indices', async () => {
      const file = video(4 * CHUNK);
      const id = await initFile(alice, file);
      await putPart(alice, id, 0, partOf(file, 0)).expect(200);
      await putPart(alice, id, 2, partOf(file, 2)).expect(200);
      const body = {
        filename: 'renamed.webm',
        file_size: file.length,
        chunk_size: CHUNK,
        total_chunks: 4,
        file_hash: md5(file),
      };
      const resumed = await init(alice, body).expect(200);
      expect(resumed.body).toEqual({ upload_id: id, uploaded_chunks: [0, 2] });
      // another chunk size, or another account: a new session
      const other = await init(alice, { ...body, chunk_size: 2 * CHUNK, total_chunks: 2 }).expect(200);
      expect(other.body.upload_id).not.toBe(id);
      const bobs = await init(bob, body).expect(200);
      expect(bobs.body).toEqual({ upload_id: expect.not.stringMatching(id), uploaded_chunks: [] });
      // finish the resumed one
      await putPart(alice, id, 1, partOf(file, 1)).expect(200);
      await putPart(alice, id, 3, partOf(file, 3)).expect(200);
      await complete(alice, { upload_id: id }).expect(200);
      // completed: not resumed any more
      const fresh = await init(alice, body).expect(200);
      expect(fresh.body.upload_id).not.toBe(id);
      expect(fresh.body.uploaded_chunks).toEqual([]);
    });

    it('an expired session is not resumed', async () => {
      const file = video(2 * CHUNK);
      const id = await initFile(alice, file);
      await putPart(alice, id, 0, partOf(file, 0)).expect(200);
      await t.sql('UPDATE upload_sessions SET expires_at = ? WHERE upload_id = ?', [Date.now() - 1, id]);
      const again = await init(alice, {
        filename: 'clip.webm',
        file_size: file.length,
        chunk_size: CHUNK,
        total_chunks: 2,
        file_hash: md5(file),
      }).expect(200);
      expect(again.body.upload_id).not.toBe(id);
      expect(again.body.uploaded_chunks).toEqual([]);
    });

    it('each stored part keeps the session alive 24 h from then', async () => {
      const file = video(2 * CHUNK);
      const id = await initFile(alice, file);
      await t.sql('UPDATE upload_sessions SET expires_at = ? WHERE upload_id = ?', [Date.now() + HOUR, id]);
      const before = Date.now();
      await putPart(alice, id, 0, partOf(file, 0)).expect(200);
      const expires = Number((await sessionRow(id)).expires_at);
      expect(expires).toBeGreaterThanOrEqual(before + 24 * HOUR);
      expect(expires).toBeLessThanOrEqual(Date.now() + 24 * HOUR);
    });
  });

  describe('part checks', () => {
    it('an index already stored is a 200 and is not rewritten', async () => {
      const file = video(2 * CHUNK);
      const id = await initFile(alice, file);
      await putPart(alice, id, 0, partOf(file, 0)).expect(200);
      const [stored] = await t.sql<{ storage_key: string }>(
        'SELECT p.storage_key FROM upload_parts p JOIN upload_sessions s ON s.id = p.session_id WHERE s.upload_id = ?',
        [id],
      );
      const other = randomBytes(CHUNK);
      const again = await putPart(alice, id, 0, other).expect(200);
      expect(again.body).toEqual({ chunk_index: 0 });
      const [still] = await t.sql<{ storage_key: string }>(
        'SELECT p.storage_key FROM upload_parts p JOIN upload_sessions s ON s.id = p.session_id WHERE s.upload_id = ?',
        [id],
      );
      expect(still.storage_key).toBe(stored.storage_key);
      expect(await partFiles(id)).toHaveLength(1);
      await putPart(alice, id, 1, partOf(file, 1)).expect(200);
      const done = await complete(alice, { upload_id: id }).expect(200);
      expect(md5((await t.http.get(done.body.url as string).buffer(true)).body as Buffer)).toBe(md5(file));
    });

    it('a part whose MD5 is not chunk_hash is a 400 naming chunk_hash, and nothing is kept', async () => {
      const file = video(2 * CHUNK);
      const id = await initFile(alice, file);
      const res = await putPart(alice, id, 0, partOf(file, 0), md5(Buffer.from('something else')));
      expect(expectError(res, 400, 'VALIDATION_FAILED').details?.map((d) => d.field)).toEqual(['chunk_hash']);
      expect(await partRows(id)).toEqual([]);
      expect(await partFiles(id)).toEqual([]);
    });

    it('a part of the wrong size is a 400 (every part but the last is exactly chunk_size, the last the rest)', async () => {
      const file = video(2 * CHUNK + 100);
      const id = await initFile(alice, file);
      const short = partOf(file, 0).subarray(0, CHUNK - 1);
      expect(
        expectError(await putPart(alice, id, 0, short), 400, 'VALIDATION_FAILED').details?.[0]?.field,
      ).toBe('file');
      const lastTooShort = partOf(file, 2).subarray(0, 99);
      expectError(await putPart(alice, id, 2, lastTooShort), 400, 'VALIDATION_FAILED');
      const lastTooLong = Buffer.concat([partOf(file, 2), Buffer.from('x')]);
      expectError(await putPart(alice, id, 2, lastTooLong), 400, 'VALIDATION_FAILED');
      expect(await partRows(id)).toEqual([]);
      expect(await partFiles(id)).toEqual([]);
    });

    it('a part over chunk_size is a 413, and nothing is kept', async () => {
      const file = video(2 * CHUNK);
      const id = await initFile(alice, file);
      const res = await putPart(alice, id, 0, randomBytes(CHUNK + 1)).catch(
        (e: { response?: Response }) => e.response as Response,
      );
      expectError(res, 413, 'PAYLOAD_TOO_LARGE', `part is larger than chunk_size (${CHUNK} bytes)`);
      expect(await partRows(id)).toEqual([]);
      expect(await partFiles(id)).toEqual([]);
    });

    it('an index outside [0, total) is a 400 naming chunk_index', async () => {
      const file = video(2 * CHUNK);
      const id = await initFile(alice, file);
      for (const index of [2, 99, -1, 'one', '1.5', '']) {
        const res = await putPart(alice, id, index, partOf(file, 0));
        expect(expectError(res, 400, 'VALIDATION_FAILED').details?.map((d) => d.field)).toEqual([
          'chunk_index',
        ]);
      }
      expect(await partFiles(id)).toEqual([]);
    });

    it('a chunk upload cut off in the middle leaves no part and no broken session', async () => {
      const file = video(2 * CHUNK);
      const id = await initFile(alice, file);
      const part = partOf(file, 0);
      const boundary = 'cutboundary42';
      const pre = Buffer.from(
        [
          ['upload_id', id],
          ['chunk_index', '0'],
          ['chunk_hash', md5(part)],
        ]
          .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
          .join('') +
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="chunk_0"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
      );
      const post = Buffer.from(`\r\n--${boundary}--\r\n`);
      await new Promise<void>((resolve, reject) => {
        const sock = connect(port, '127.0.0.1', () => {
          sock.write(
            `POST /video/chunk/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${alice.auth}\r\n` +
              `Content-Type: multipart/form-data; boundary=${boundary}\r\n` +
              `Content-Length: ${pre.length + part.length + post.length}\r\n\r\n`,
          );
          sock.write(pre);
          sock.write(part.subarray(0, CHUNK / 2), () => setTimeout(() => (sock.destroy(), resolve()), 200));
        });
        sock.on('error', reject);
      });
      // The server notices the cut and removes its temporary file.
      for (let i = 0; i < 50 && (await partFiles(id)).length > 0; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(await partFiles(id)).toEqual([]);
      expect(await partRows(id)).toEqual([]);
      expect((await status(alice, { upload_id: id }).expect(200)).body.uploaded_chunks).toEqual([]);
      await putPart(alice, id, 0, part).expect(200);
      await putPart(alice, id, 1, partOf(file, 1)).expect(200);
      await complete(alice, { upload_id: id }).expect(200);
    });

    it('a form that ends without its closing boundary: a 400 at once, file first or fields first, and nothing kept or held', async () => {
      const file = video(2 * CHUNK);
      const id = await initFile(alice, file);
      const part = partOf(file, 0);
      const boundary = 'openform';
      const field = (k: string, v: string) =>
        `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`;
      const fields = field('upload_id', id) + field('chunk_index', '0') + field('chunk_hash', md5(part));
      const fileHead = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="c"\r\n\r\n`;
      /**
       * The request with its whole body in one write (so the server has parsed the form before the
       * route reads the file), then waits for the answer, or gives up after 5 s: a hang.
       */
      const send = (body: Buffer) =>
        new Promise<{ status: number; body: { code?: string; error?: string } }>((resolve, reject) => {
          let got = '';
          const head =
            `POST /video/chunk/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${alice.auth}\r\n` +
            `Content-Type: multipart/form-data; boundary=${boundary}\r\n` +
            `Content-Length: ${body.length}\r\n\r\n`;
          const sock = connect(port, '127.0.0.1', () => sock.write(Buffer.concat([Buffer.from(head), body])));
          const timer = setTimeout(() => (sock.destroy(), reject(new Error('no answer in 5 s'))), 5000);
          sock.on('data', (d: Buffer) => {
            got += d.toString();
            const end = got.indexOf('\r\n\r\n');
            const length = /content-length: (\d+)/i.exec(got);
            if (end < 0 || !length || got.length < end + 4 + Number(length[1])) return;
            clearTimeout(timer);
            sock.destroy();
            resolve({ status: Number(got.split(' ')[1]), body: JSON.parse(got.slice(end + 4)) as object });
          });
          sock.on('error', reject);
        });
      // A few bytes of the file: the form is read whole in one go, as a small part's would be.
      const fileFirst = Buffer.from(`${fileHead}abc`);
      const fieldsFirst = Buffer.from(`${fields}${fileHead}abc`);
      // More than an account's two parts kept before their fields: each must be given back.
      for (const body of [fileFirst, fileFirst, fileFirst, fieldsFirst, fileFirst]) {
        const res = await send(body);
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED', error: 'malformed multipart body' });
      }
      expect(await partRows(id)).toEqual([]);
      expect(readdirSync(tmpdir()).filter((f) => f.startsWith('fsv-part-'))).toEqual([]);
      // The same part, whole, file first: its slot is free.
      const whole = Buffer.concat([
        Buffer.from(fileHead),
        part,
        Buffer.from(`\r\n${fields}--${boundary}--\r\n`),
      ]);
      expect(await send(whole)).toEqual({ status: 200, body: { chunk_index: 0 } });
      expect(await partRows(id)).toEqual([0]);
    });
  });

  describe('complete checks', () => {
    it('before every part is stored: 400 "not all chunks uploaded" with missing (up to 5), completed and total', async () => {
      const file = video(8 * CHUNK);
      const id = await initFile(alice, file);
      await putPart(alice, id, 1, partOf(file, 1)).expect(200);
      const res = await complete(alice, { upload_id: id });
      expectError(res, 400, 'VALIDATION_FAILED', 'not all chunks uploaded');
      expect(res.body).toMatchObject({ missing: [0, 2, 3, 4, 5], completed: 1, total: 8 });
      // nothing changed: the session is still open
      expect(Number((await sessionRow(id)).status)).toBe(0);
    });

    it('a whole file that does not match file_hash is a 400 naming file_hash; the session is discarded with its parts', async () => {
      const file = video(2 * CHUNK);
      const claimed = video(2 * CHUNK);
      const res0 = await init(alice, {
        filename: 'x.webm',
        file_size: file.length,
        chunk_size: CHUNK,
        total_chunks: 2,
        file_hash: md5(claimed),
      }).expect(200);
      const id = res0.body.upload_id as string;
      const uploadsBefore = await t.sql('SELECT COUNT(*) AS n FROM uploads');
      await uploadAll(alice, id, file);
      const res = await complete(alice, { upload_id: id });
      expect(expectError(res, 400, 'VALIDATION_FAILED').details?.map((d) => d.field)).toEqual(['file_hash']);
      expect(await partRows(id)).toEqual([]);
      expect(await partFiles(id)).toEqual([]);
      expect(await t.sql('SELECT COUNT(*) AS n FROM uploads')).toEqual(uploadsBefore);
      expectError(await status(alice, { upload_id: id }), 404, 'NOT_FOUND');
      expectError(await complete(alice, { upload_id: id }), 404, 'NOT_FOUND');
      expectError(await putPart(alice, id, 0, partOf(file, 0)), 404, 'NOT_FOUND');
    });

    it.each(['matroska', 'quicktime', 'm4a'])(
      'content that is no MP4/WebM video (%s) is a 415 at complete; the session is discarded with its parts',
      async (name) => {
        const file = video(CHUNK + 500, media.lookAlikes[name]().subarray(0, 64));
        const id = await initFile(alice, file);
        await uploadAll(alice, id, file);
        expectError(await complete(alice, { upload_id: id }), 415, 'UNSUPPORTED_MEDIA_TYPE');
        expect(await partRows(id)).toEqual([]);
        expect(await partFiles(id)).toEqual([]);
        expectError(await complete(alice, { upload_id: id }), 404, 'NOT_FOUND');
      },
    );
  });

  describe('errors', () => {
    const valid = {
      filename: 'a.webm',
      file_size: 100_000,
      chunk_size: CHUNK,
      total_chunks: 2,
      file_hash: 'a'.repeat(32),
    };

    it.each([
      ['filename', { filename: '' }],
      ['filename', { filename: '   ' }],
      ['filename', { filename: 'x'.repeat(256) }],
      ['filename', { filename: 7 }],
      ['file_size', { file_size: 0 }],
      ['file_size', { file_size: 200 * 1024 * 1024 + 1, total_chunks: 3201 }],
      ['file_size', { file_size: '100000' }],
      ['file_size', { file_size: 1.5 }],
      ['chunk_size', { chunk_size: CHUNK - 1 }],
      ['chunk_size', { chunk_size: 16 * 1024 * 1024 + 1 }],
      ['chunk_size', { chunk_size: null }],
      ['total_chunks', { total_chunks: 3 }],
      ['total_chunks', { total_chunks: 1 }],
      ['total_chunks', { total_chunks: '2' }],
      ['file_hash', { file_hash: 'A'.repeat(32) }],
      ['file_hash', { file_hash: 'a'.repeat(31) }],
      ['file_hash', { file_hash: 12345 }],
      ['file_hash', { file_hash: undefined }],
    ])('init: a bad %s is a 400 naming it (%p)', async (field, patch) => {
      const res = await init(alice, { ...valid, ...patch });
      expect(expectError(res, 400, 'VALIDATION_FAILED').details?.map((d) => d.field)).toContain(field);
    });

    it('init: a missing or non-object body is a 400', async () => {
      expectError(await init(alice, {}), 400, 'VALIDATION_FAILED');
      const arr = await t.http.post('/video/chunk/init').set('Authorization', alice.auth).send([1, 2]);
      expectError(arr, 400, 'VALIDATION_FAILED');
    });

    it('status and complete: upload_id must be a string (400)', async () => {
      for (const body of [{}, { upload_id: 5 }, { upload_id: '' }, { upload_id: 'x'.repeat(65) }]) {
        expect(expectError(await status(alice, body), 400, 'VALIDATION_FAILED').details?.[0]?.field).toBe(
          'upload_id',
        );
        expect(expectError(await complete(alice, body), 400, 'VALIDATION_FAILED').details?.[0]?.field).toBe(
          'upload_id',
        );
      }
    });

    it('status and complete take upload_id trimmed (SPEC §1), as the upload form does', async () => {
      const file = video(CHUNK + 10);
      const id = await initFile(alice, file);
      await putPart(alice, ` ${id}\t`, 0, partOf(file, 0)).expect(200);
      const st = await status(alice, { upload_id: `  ${id} ` });
      expect(st.status).toBe(200);
      expect(st.body).toEqual({ upload_id: id, uploaded_chunks: [0], total_chunks: 2 });
      await putPart(alice, id, 1, partOf(file, 1)).expect(200);
      const done = await complete(alice, { upload_id: `\n${id} ` });
      expect(done.status).toBe(200);
      expect(done.body.url).toMatch(VIDEO_URL);
      const blank = await status(alice, { upload_id: '   ' });
      expect(expectError(blank, 400, 'VALIDATION_FAILED').details?.[0]?.field).toBe('upload_id');
    });

    it('parts sent before their fields: two at once per account are kept on disk, a third is a 429', async () => {
      const errors = jest.spyOn(Logger.prototype, 'error');
      const file = video(3 * CHUNK);
      const id = await initFile(alice, file);
      const boundary = 'spoolboundary';
      const filePart = (i: number) =>
        Buffer.concat([
          Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="c"\r\n\r\n`),
          partOf(file, i),
          Buffer.from('\r\n'),
        ]);
      const fields = (i: number) =>
        [
          ['upload_id', id],
          ['chunk_index', String(i)],
          ['chunk_hash', md5(partOf(file, i))],
        ]
          .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
          .join('') + `--${boundary}--\r\n`;
      // Two uploads send their file, then stall before their fields: each holds a slot.
      const took = jest.spyOn(SpoolSlots.prototype, 'take');
      const stalled = await Promise.all(
        [0, 1].map(
          (i) =>
            new Promise<ReturnType<typeof connect>>((resolve, reject) => {
              const body = Buffer.concat([filePart(i), Buffer.from(fields(i))]);
              const sock = connect(port, '127.0.0.1', () => {
                sock.write(
                  `POST /video/chunk/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${alice.auth}\r\n` +
                    `Content-Type: multipart/form-data; boundary=${boundary}\r\n` +
                    `Content-Length: ${body.length}\r\n\r\n`,
                );
                // The file and the next part's first line: the server has the whole file.
                sock.write(Buffer.concat([filePart(i), Buffer.from(`--${boundary}\r\n`)]), () =>
                  resolve(sock),
                );
              });
              sock.on('error', reject);
            }),
        ),
      );
      // The server has taken a slot for each (held until their requests end).
      const held = () => took.mock.results.filter((r) => r.value === true).length;
      await until(() => held() >= 2, 10_000);
      const holding = held();
      took.mockRestore();
      expect(holding).toBe(2);
      const send = (i: number) =>
        t.http
          .post('/video/chunk/upload')
          .set('Authorization', alice.auth)
          .set('Content-Type', `multipart/form-data; boundary=${boundary}`)
          .send(Buffer.concat([filePart(i), Buffer.from(fields(i))]));
      const third = await send(2);
      expectError(third, 429, 'RATE_LIMITED', /send upload_id, chunk_index and chunk_hash before file/);
      expect(third.headers['retry-after']).toBe('1');
      // Fields first still streams, whatever is kept on disk.
      await putPart(alice, id, 2, partOf(file, 2)).expect(200);
      // Gone, the stalled uploads give their slots back.
      for (const sock of stalled) sock.destroy();
      let again = await send(0);
      for (let i = 0; i < 30 && again.status === 429; i++) {
        await new Promise((r) => setTimeout(r, 100));
        again = await send(0);
      }
      expect(again.status).toBe(200);
      expect((await send(1)).status).toBe(200);
      expect(await partRows(id)).toEqual([0, 1, 2]);
      // The stalled uploads, cut off by their clients, were not errors of ours.
      expect(errors.mock.calls.map((c) => String(c[0])).filter((m) => /internal error/.test(m))).toEqual([]);
      errors.mockRestore();
    });

    it('upload: missing fields are a 400 naming each; they may come after the file', async () => {
      const bytes = randomBytes(100);
      const none = await t.http
        .post('/video/chunk/upload')
        .set('Authorization', alice.auth)
        .attach('file', bytes, 'b');
      expect(expectError(none, 400, 'VALIDATION_FAILED').details?.map((d) => d.field)).toEqual([
        'upload_id',
        'chunk_index',
        'chunk_hash',
      ]);
      // The file first, the fields after it (built by hand: supertest puts fields first). The file
      // is read before the fields behind it; the part is stored all the same.
      const file = video(2 * CHUNK + 500);
      const id = await initFile(alice, file);
      const boundary = 'orderboundary';
      const part = (headers: string, body: Buffer | string) =>
        Buffer.concat([
          Buffer.from(`--${boundary}\r\n${headers}\r\n\r\n`),
          Buffer.from(body),
          Buffer.from('\r\n'),
        ]);
      const form = (index: number, fields: [string, string][], bytesOfPart = partOf(file, index)) =>
        Buffer.concat([
          part('Content-Disposition: form-data; name="file"; filename="b"', bytesOfPart),
          ...fields.map(([name, value]) => part(`Content-Disposition: form-data; name="${name}"`, value)),
          Buffer.from(`--${boundary}--\r\n`),
        ]);
      const sendForm = (body: Buffer) =>
        t.http
          .post('/video/chunk/upload')
          .set('Authorization', alice.auth)
          .set('Content-Type', `multipart/form-data; boundary=${boundary}`)
          .send(body);
      const fieldsOf = (index: number): [string, string][] => [
        ['upload_id', id],
        ['chunk_index', String(index)],
        ['chunk_hash', md5(partOf(file, index))],
      ];
      const after = await sendForm(form(0, fieldsOf(0)));
      expect(after.status).toBe(200);
      expect(after.body).toEqual({ chunk_index: 0 });
      // Some fields before the file, the rest after it.
      const split = Buffer.concat([
        part('Content-Disposition: form-data; name="upload_id"', id),
        form(2, fieldsOf(2).slice(1)),
      ]);
      expect((await sendForm(split)).body).toEqual({ chunk_index: 2 });
      expect(await partRows(id)).toEqual([0, 2]);
      // After the file, the fields are checked as before it: a wrong hash keeps nothing.
      const wrongHash = await sendForm(form(1, [...fieldsOf(1).slice(0, 2), ['chunk_hash', md5(bytes)]]));
      expect(expectError(wrongHash, 400, 'VALIDATION_FAILED').details?.[0]?.field).toBe('chunk_hash');
      const missing = await sendForm(form(1, fieldsOf(1).slice(0, 2)));
      expect(expectError(missing, 400, 'VALIDATION_FAILED').details?.map((d) => d.field)).toEqual([
        'chunk_hash',
      ]);
      // A file over the largest chunk_size sent before its fields is a 413, as after them.
      const huge = await sendForm(form(1, fieldsOf(1), randomBytes(16 * 1024 * KiB + 2)));
      expectError(huge, 413, 'PAYLOAD_TOO_LARGE');
      expect(await partRows(id)).toEqual([0, 2]);
      // Every file kept while its fields came was deleted.
      expect(readdirSync(tmpdir()).filter((f) => f.startsWith('fsv-part-'))).toEqual([]);
      await uploadAll(alice, id, file);
      const done = await complete(alice, { upload_id: id });
      expect(done.status).toBe(200);
      expect(done.body.url).toMatch(VIDEO_URL);
      const badHash = await t.http
        .post('/video/chunk/upload')
        .set('Authorization', alice.auth)
        .field('upload_id', 'abc')
        .field('chunk_index', '0')
        .field('chunk_hash', 'xyz')
        .attach('file', bytes, 'b');
      expect(expectError(badHash, 400, 'VALIDATION_FAILED').details?.map((d) => d.field)).toEqual([
        'chunk_hash',
      ]);
      const noFile = await t.http
        .post('/video/chunk/upload')
        .set('Authorization', alice.auth)
        .field('upload_id', 'abc')
        .field('chunk_index', '0')
        .field('chunk_hash', md5(bytes));
      expect(expectError(noFile, 400, 'VALIDATION_FAILED').details?.[0]?.field).toBe('file');
      const json = await t.http
        .post('/video/chunk/upload')
        .set('Authorization', alice.auth)
        .send({ upload_id: 'abc' });
      expectError(json, 400, 'VALIDATION_FAILED');
    });

    it('every route is a 401 without a valid token; a bad body is a 400 first', async () => {
      const file = video(CHUNK);
      expectError(await init(null, { ...valid, file_hash: md5(file) }), 401, 'UNAUTHENTICATED');
      expectError(await init(null, { ...valid, file_size: -1 }), 400, 'VALIDATION_FAILED');
      expectError(await putPart(null, 'abc', 0, file), 401, 'UNAUTHENTICATED');
      expectError(await status(null, { upload_id: 'abc' }), 401, 'UNAUTHENTICATED');
      expectError(await status(null, {}), 400, 'VALIDATION_FAILED');
      expectError(await complete(null, { upload_id: 'abc' }), 401, 'UNAUTHENTICATED');
      expectError(
        await t.http
          .post('/video/chunk/complete')
          .set('Authorization', 'Bearer nope')
          .send({ upload_id: 'abc' }),
        401,
        'UNAUTHENTICATED',
      );
    });

    it("another account's session is a 403 on upload, status and complete; nothing is stored", async () => {
      const file = video(2 * CHUNK);
      const id = await initFile(alice, file);
      await putPart(alice, id, 0, partOf(file, 0)).expect(200);
      expectError(await putPart(bob, id, 1, partOf(file, 1)), 403, 'FORBIDDEN');
      expectError(await status(bob, { upload_id: id }), 403, 'FORBIDDEN');
      expectError(await complete(bob, { upload_id: id }), 403, 'FORBIDDEN');
      expect(await partRows(id)).toEqual([0]);
    });

    it('an unknown or expired session is a 404 on upload, status and complete', async () => {
      const file = video(2 * CHUNK);
      for (const unknown of ['0'.repeat(32), 'no-such-upload']) {
        expectError(
          await putPart(alice, unknown, 0, partOf(file, 0)),
          404,
          'NOT_FOUND',
          'upload session not found or expired',
        );
        expectError(await status(alice, { upload_id: unknown }), 404, 'NOT_FOUND');
        expectError(await complete(alice, { upload_id: unknown }), 404, 'NOT_FOUND');
      }
      const id = await initFile(alice, file);
      await putPart(alice, id, 0, partOf(file, 0)).expect(200);
      await t.sql('UPDATE upload_sessions SET expires_at = ? WHERE upload_id = ?', [Date.now() - 1, id]);
      expectError(await putPart(alice, id, 1, partOf(file, 1)), 404, 'NOT_FOUND');
      expectError(await status(alice, { upload_id: id }), 404, 'NOT_FOUND');
      expectError(await complete(alice, { upload_id: id }), 404, 'NOT_FOUND');
      expect(await partFiles(id)).toHaveLength(1);
    });

    it('a sixth open session is a 409; resuming one of the five, and sessions of others, still work', async () => {
      const files = Array.from({ length: 6 }, () => video(CHUNK));
      const ids: string[] = [];
      for (const f of files.slice(0, 5)) ids.push(await initFile(alice, f));
      const sixth = await init(alice, {
        filename: 'six.webm',
        file_size: CHUNK,
        chunk_size: CHUNK,
        total_chunks: 1,
        file_hash: md5(files[5]),
      });
      expectError(sixth, 409, 'CONFLICT');
      const resumed = await init(alice, {
        filename: 'one.webm',
        file_size: CHUNK,
        chunk_size: CHUNK,
        total_chunks: 1,
        file_hash: md5(files[0]),
      }).expect(200);
      expect(resumed.body.upload_id).toBe(ids[0]);
      await initFile(bob, files[5]);
      // completing one frees a place; so does expiry
      await uploadAll(alice, ids[0], files[0]);
      await complete(alice, { upload_id: ids[0] }).expect(200);
      await initFile(alice, files[5]);
      expectError(await init(alice, { ...valid, file_hash: md5(video(10)) }), 409, 'CONFLICT');
      await t.sql('UPDATE upload_sessions SET expires_at = ? WHERE upload_id = ?', [Date.now() - 1, ids[1]]);
      await init(alice, { ...valid, file_hash: md5(video(10)) }).expect(200);
    });
  });

  describe('cleanup', () => {
    it('the sweeper deletes sessions 24 h after their last chunk, with their parts; live ones stay', async () => {
      const janitor = t.app.get(UploadJanitor);
      const stale = video(3 * CHUNK);
      const live = video(3 * CHUNK);
      const staleId = await initFile(alice, stale);
      const liveId = await initFile(alice, live);
      await putPart(alice, staleId, 0, partOf(stale, 0)).expect(200);
      await putPart(alice, staleId, 1, partOf(stale, 1)).expect(200);
      await putPart(alice, liveId, 0, partOf(live, 0)).expect(200);
      await t.sql('UPDATE upload_sessions SET expires_at = ? WHERE upload_id = ?', [
        Date.now() - 1000,
        staleId,
      ]);

      const run = await janitor.sweep();
      expect(run.expiredSessions).toBeGreaterThanOrEqual(1);
      expect(await sessionRow(staleId)).toBeUndefined();
      expect(await partRows(staleId)).toEqual([]);
      expect(await partFiles(staleId)).toEqual([]);
      if (storage === 'local')
        expect(existsSync(join(t.config.dataDir, 'uploads', 'parts', staleId))).toBe(false);
      expectError(await status(alice, { upload_id: staleId }), 404, 'NOT_FOUND');
      expect(await partRows(liveId)).toEqual([0]);
      expect(await partFiles(liveId)).toHaveLength(1);
      expect((await status(alice, { upload_id: liveId }).expect(200)).body.uploaded_chunks).toEqual([0]);

      // completed sessions go too once expired (their parts were already deleted)
      await uploadAll(alice, liveId, live);
      const done = await complete(alice, { upload_id: liveId }).expect(200);
      await t.sql('UPDATE upload_sessions SET expires_at = ? WHERE upload_id = ?', [
        Date.now() - 1000,
        liveId,
      ]);
      await janitor.sweep();
      expect(await sessionRow(liveId)).toBeUndefined();
      expectError(await complete(alice, { upload_id: liveId }), 404, 'NOT_FOUND');
      // the assembled file is an ordinary upload and stays
      await t.http.get(done.body.url as string).expect(200);
    });
  });

  it('the four routes are in the OpenAPI document', async () => {
    const doc = await t.http.get('/docs/json').expect(200);
    const paths = doc.body.paths as Record<string, { post?: { requestBody?: unknown; responses?: object } }>;
    for (const p of [
      '/video/chunk/init',
      '/video/chunk/upload',
      '/video/chunk/status',
      '/video/chunk/complete',
    ]) {
      expect(paths[p]?.post?.requestBody).toBeDefined();
      expect(Object.keys(paths[p]?.post?.responses ?? {})).toContain('200');
    }
  });
});
