import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FILE_STORAGE, UploadJanitor } from '@app/storage';
import type { S3FileStorage } from '../../libs/storage/src/s3-file-storage';
import { createAccount, TestAccount } from '../factories/accounts';
import * as media from '../fixtures/media-fixtures';
import type { S3TestServer } from '../helpers/s3-server';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';

jest.setTimeout(180_000);

const KiB = 1024;
const MiB = 1024 * KiB;
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const keyOf = (url: string): string => url.slice(url.indexOf('/static/') + '/static/'.length);

/** A WebM of `size` random bytes (so every upload is new). */
function video(size: number): Buffer {
  const b = randomBytes(size);
  media.ebml('webm').copy(b, 0);
  return b;
}

/** A full garbage collection on demand, to measure live memory rather than garbage not yet collected. */
function exposeGc(): () => void {
  setFlagsFromString('--expose_gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Streams a multipart upload of a `size`-byte WebM to `path` over a real socket, generated as it
 * is sent (one 1 MiB block repeated after the header), so the client side holds no copy of it.
 */
function streamUpload(
  port: number,
  path: string,
  auth: string,
  size: number,
): Promise<{ status: number; body: Record<string, unknown>; md5: string }> {
  const boundary = `fsv${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.webm"\r\n` +
      'Content-Type: video/webm\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const block = randomBytes(MiB);
  const first = Buffer.from(block);
  media.ebml('webm').copy(first, 0);
  const hash = createHash('md5');
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path,
      method: 'POST',
      headers: {
        authorization: auth,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + size + tail.length),
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>,
          md5: hash.digest('hex'),
        }),
      );
    });
    const pump = async () => {
      req.write(head);
      for (let sent = 0; sent < size;) {
        const n = Math.min(MiB, size - sent);
        const piece = (sent === 0 ? first : block).subarray(0, n);
        hash.update(piece);
        sent += n;
        if (!req.write(piece)) await new Promise((r) => req.once('drain', r));
      }
      req.end(tail);
    };
    pump().catch(reject);
  });
}

describe.each(PROFILES)('object storage (%s+s3)', (profile) => {
  let t: TestApp;
  let s3: S3TestServer;
  let alice: TestAccount;
  let port: number;

  beforeAll(async () => {
    t = await startApp(profile, { s3: true });
    s3 = t.testEnv.s3!;
    alice = await createAccount(t, 's3_a');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.getHttpServer().address() as AddressInfo).port;
  });
  afterAll(async () => {
    await t?.close();
  });

  const upload = (route: string, bytes: Buffer) =>
    t.http.post(route).set('Authorization', alice.auth).attach('file', bytes, 'f');
  const count = async (table: string) =>
    Number((await t.sql<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))[0].n);

  it('uploads are objects in the bucket (with their content type), nothing on disk; /static serves them with the object’s ETag and Last-Modified', async () => {
    const bytes = video(30 * KiB);
    const res = await upload('/video/uploadVideo', bytes).expect(200);
    const key = keyOf(res.body.url as string);
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    expect(head.ContentLength).toBe(bytes.length);
    expect(head.ContentType).toBe('video/webm');
    expect(existsSync(join(t.config.dataDir, 'uploads'))).toBe(false);

    const file = await t.http
      .get(res.body.url as string)
      .buffer(true)
      .expect(200);
    expect(Buffer.compare(file.body as Buffer, bytes)).toBe(0);
    expect(file.headers.etag).toBe(head.ETag);
    expect(file.headers['last-modified']).toBe(head.LastModified?.toUTCString());
    await t.http
      .get(res.body.url as string)
      .set('If-None-Match', head.ETag!)
      .expect(304);
  });

  it('a 200 MiB video is streamed to the bucket in 5 MiB parts, never held whole in memory; Range reads of it are passed through', async () => {
    const gc = exposeGc();
    const storage = t.app.get<S3FileStorage>(FILE_STORAGE);
    // Counted by a middleware: a spy would keep every part's buffer in its call log.
    let parts = 0;
    storage.client.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'UploadPartCommand') parts++;
        return next(args);
      },
      { step: 'initialize', name: 'countUploadParts' },
    );
    const size = 200 * MiB;
    gc();
    const base = process.memoryUsage();
    const peak = { arrayBuffers: 0, heapUsed: 0, rss: 0 };
    const sampler = setInterval(() => {
      gc();
      const m = process.memoryUsage();
      peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers - base.arrayBuffers);
      peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed - base.heapUsed);
      peak.rss = Math.max(peak.rss, m.rss - base.rss);
    }, 250);
    const started = Date.now();
    let res: Awaited<ReturnType<typeof streamUpload>>;
    try {
      res = await streamUpload(port, '/video/uploadVideo', alice.auth, size);
    } finally {
      clearInterval(sampler);
      storage.client.middlewareStack.remove('countUploadParts');
    }
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(
      `[upload-s3 ${profile}] 200 MiB in ${seconds.toFixed(1)} s; live memory growth at its peak (after GC): ` +
        `buffers ${(peak.arrayBuffers / MiB).toFixed(1)} MiB, heap ${(peak.heapUsed / MiB).toFixed(1)} MiB, ` +
        `rss ${(peak.rss / MiB).toFixed(1)} MiB\n`,
    );
    expect(res.status).toBe(200);
    // Parts of 5 MiB, at most 2 in flight: a few parts' worth of buffers, never the file.
    expect(peak.arrayBuffers).toBeLessThan(48 * MiB);
    expect(peak.heapUsed).toBeLessThan(48 * MiB);
    expect(parts).toBe(40);

    const url = res.body.url as string;
    const key = keyOf(url);
    expect((await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }))).ContentLength).toBe(
      size,
    );
    const whole = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    const hash = createHash('md5');
    for await (const chunk of whole.Body as AsyncIterable<Buffer>) hash.update(chunk);
    expect(hash.digest('hex')).toBe(res.md5);

    const tail = await t.http.get(url).set('Range', 'bytes=-16').buffer(true).expect(206);
    expect(tail.headers['content-range']).toBe(`bytes ${size - 16}-${size - 1}/${size}`);
    expect((tail.body as Buffer).length).toBe(16);
    const mid = await t.http
      .get(url)
      .set('Range', `bytes=${5 * MiB - 4}-${5 * MiB + 3}`)
      .buffer(true)
      .expect(206);
    expect(mid.headers['content-length']).toBe('8');
    expect((await t.http.get(url).set('Range', `bytes=${size}-`)).status).toBe(416);

    // deleting its video deletes the object
    const id = (
      await t.http
        .post('/video/publish')
        .set('Authorization', alice.auth)
        .send({ title: 'big', play_url: url, cover_url: '/static/covers/none.jpg' })
        .expect(200)
    ).body.id as number;
    await t.http.post('/video/delete').set('Authorization', alice.auth).send({ id }).expect(200);
    expect(await s3.has(key)).toBe(false);
    await t.http.get(url).expect(404);
  });

  /** Names of the S3 commands the api sends while `fn` runs. */
  const commandsDuring = async (fn: () => Promise<void>): Promise<string[]> => {
    const storage = t.app.get<S3FileStorage>(FILE_STORAGE);
    const names: string[] = [];
    storage.client.middlewareStack.add(
      (next, context) => (args) => {
        names.push(context.commandName ?? '?');
        return next(args);
      },
      { step: 'initialize', name: 'recordCommands' },
    );
    try {
      await fn();
    } finally {
      storage.client.middlewareStack.remove('recordCommands');
    }
    return names;
  };

  it('each /static answer costs one request to the store: GetObject for a GET (ranged or not), HeadObject for a HEAD or a 304', async () => {
    const bytes = video(30 * KiB);
    const url = (await upload('/video/uploadVideo', bytes).expect(200)).body.url as string;
    let etag = '';
    expect(
      await commandsDuring(async () => {
        const res = await t.http.get(url).buffer(true).expect(200);
        expect(Buffer.compare(res.body as Buffer, bytes)).toBe(0);
        expect(res.headers['content-length']).toBe(String(bytes.length));
        etag = res.headers.etag;
      }),
    ).toEqual(['GetObjectCommand']);
    expect(
      await commandsDuring(async () => {
        const res = await t.http.get(url).set('Range', 'bytes=100-199').buffer(true).expect(206);
        expect(res.headers['content-range']).toBe(`bytes 100-199/${bytes.length}`);
        expect(Buffer.compare(res.body as Buffer, bytes.subarray(100, 200))).toBe(0);
        expect(res.headers.etag).toBe(etag);
      }),
    ).toEqual(['GetObjectCommand']);
    expect(
      await commandsDuring(async () => {
        const res = await t.http.head(url).expect(200);
        expect(res.headers['content-length']).toBe(String(bytes.length));
        expect(res.headers.etag).toBe(etag);
      }),
    ).toEqual(['HeadObjectCommand']);
    expect(
      await commandsDuring(async () => {
        await t.http.get(url).set('If-None-Match', etag).expect(304);
      }),
    ).toEqual(['HeadObjectCommand']);
    // a range past the end: the 416 names the size
    const past = await t.http.get(url).set('Range', `bytes=${bytes.length}-`).expect(416);
    expect(past.headers['content-range']).toBe(`bytes */${bytes.length}`);
  });

  it('a file found over the limit in the middle of a multipart upload is a 413: the multipart upload is aborted, nothing is stored', async () => {
    const before = await s3.keys();
    const commands = await commandsDuring(async () => {
      const res = await upload('/video/uploadCover', media.png(12 * MiB)).catch(
        (e: { response?: { status: number; body: unknown } }) => e.response!,
      );
      expectError(res, 413, 'PAYLOAD_TOO_LARGE');
    });
    expect(commands).toContain('CreateMultipartUploadCommand');
    expect(commands).toContain('AbortMultipartUploadCommand');
    expect(commands).not.toContain('CompleteMultipartUploadCommand');
    expect(await s3.keys()).toEqual(before);
  });

  it('deletePrefix removes every object of a folder, over several pages of the listing, and nothing beside it', async () => {
    const storage = t.app.get<S3FileStorage>(FILE_STORAGE);
    const folder = `parts/${randomBytes(16).toString('hex')}/`;
    const sibling = `${folder.slice(0, -1)}0/0x0.part`;
    const keys = Array.from({ length: 1050 }, (_, i) => `${folder}${i}x${i.toString(16)}.part`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(
        keys
          .slice(i, i + 50)
          .map((Key) => s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: 'x' }))),
      );
    }
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: sibling, Body: 'y' }));
    expect(await s3.keys(folder)).toHaveLength(1050);
    const commands = await commandsDuring(() => storage.deletePrefix(folder));
    expect(commands.filter((c) => c === 'ListObjectsV2Command')).toHaveLength(2);
    expect(commands.filter((c) => c === 'DeleteObjectsCommand')).toHaveLength(2);
    expect(await s3.keys(folder)).toEqual([]);
    expect(await s3.has(sibling)).toBe(true);
    await storage.deletePrefix(folder); // nothing there: not an error
    await storage.delete(sibling);
    await storage.delete(sibling); // a missing object: not an error
    expect(await s3.has(sibling)).toBe(false);
  });

  it('a chunked upload with parts larger than one S3 part: each part streamed, the file assembled into one object, the parts deleted', async () => {
    const chunk = 6 * MiB;
    const file = video(2 * chunk + 1234);
    const init = await t.http
      .post('/video/chunk/init')
      .set('Authorization', alice.auth)
      .send({
        filename: 'c.webm',
        file_size: file.length,
        chunk_size: chunk,
        total_chunks: 3,
        file_hash: md5(file),
      })
      .expect(200);
    const uploadId = init.body.upload_id as string;
    for (let i = 0; i < 3; i++) {
      const part = file.subarray(i * chunk, (i + 1) * chunk);
      await t.http
        .post('/video/chunk/upload')
        .set('Authorization', alice.auth)
        .field('upload_id', uploadId)
        .field('chunk_index', String(i))
        .field('chunk_hash', md5(part))
        .attach('file', part, 'blob')
        .expect(200);
    }
    expect(await s3.keys(`parts/${uploadId}/`)).toHaveLength(3);
    const done = await t.http
      .post('/video/chunk/complete')
      .set('Authorization', alice.auth)
      .send({ upload_id: uploadId })
      .expect(200);
    expect(await s3.keys(`parts/${uploadId}/`)).toEqual([]);
    const got = await t.http
      .get(done.body.url as string)
      .buffer(true)
      .expect(200);
    expect(md5(got.body as Buffer)).toBe(md5(file));
  });

  describe('while the store is down', () => {
    afterEach(async () => {
      await s3.start();
    });

    it('uploads, parts, completes and /static answer 503 (not 500) and write nothing; deletes are retried; all recover when it is back', async () => {
      const kept = await upload('/video/uploadVideo', video(20 * KiB)).expect(200);
      const doomed = await upload('/video/uploadVideo', video(20 * KiB)).expect(200);
      const videoId = (
        await t.http
          .post('/video/publish')
          .set('Authorization', alice.auth)
          .send({ title: 'doomed', play_url: doomed.body.url, cover_url: '/static/covers/none.jpg' })
          .expect(200)
      ).body.id as number;
      const chunked = async (file: Buffer) => {
        const init = await t.http
          .post('/video/chunk/init')
          .set('Authorization', alice.auth)
          .send({
            filename: 'd.webm',
            file_size: file.length,
            chunk_size: 64 * KiB,
            total_chunks: Math.ceil(file.length / (64 * KiB)),
            file_hash: md5(file),
          })
          .expect(200);
        const uploadId = init.body.upload_id as string;
        return {
          uploadId,
          put: (i: number) => {
            const part = file.subarray(i * 64 * KiB, (i + 1) * 64 * KiB);
            return t.http
              .post('/video/chunk/upload')
              .set('Authorization', alice.auth)
              .field('upload_id', uploadId)
              .field('chunk_index', String(i))
              .field('chunk_hash', md5(part))
              .attach('file', part, 'blob');
          },
          complete: () =>
            t.http
              .post('/video/chunk/complete')
              .set('Authorization', alice.auth)
              .send({ upload_id: uploadId }),
        };
      };
      // one chunked upload half sent, one with every part stored
      const file = video(64 * KiB + 10);
      const half = await chunked(file);
      await half.put(0).expect(200);
      const wholeFile = video(1000);
      const whole = await chunked(wholeFile);
      await whole.put(0).expect(200);
      const uploads = await count('uploads');

      await s3.stop();
      expectError(
        await t.http.get(kept.body.url as string),
        503,
        'UNAVAILABLE',
        'file storage unavailable, try again shortly',
      );
      expectError(await t.http.get(kept.body.url as string).set('Range', 'bytes=0-9'), 503, 'UNAVAILABLE');
      expectError(await upload('/video/uploadVideo', video(20 * KiB)), 503, 'UNAVAILABLE');
      expectError(await upload('/video/uploadVideo', video(6 * MiB)), 503, 'UNAVAILABLE');
      expectError(await upload('/video/uploadCover', media.png()), 503, 'UNAVAILABLE');
      expectError(await half.put(1), 503, 'UNAVAILABLE');
      expectError(await whole.complete(), 503, 'UNAVAILABLE');
      expect(await count('uploads')).toBe(uploads);
      expect(await count('upload_parts')).toBe(2);
      expect(
        (
          await t.http
            .post('/video/chunk/status')
            .set('Authorization', alice.auth)
            .send({ upload_id: half.uploadId })
        ).body.uploaded_chunks,
      ).toEqual([0]);
      // a video delete needs only the database: its file is queued and retried
      await t.http.post('/video/delete').set('Authorization', alice.auth).send({ id: videoId }).expect(200);
      const pending = await t.sql<{ storage_key: string }>('SELECT storage_key FROM file_deletions');
      expect(pending.map((r) => r.storage_key)).toEqual([keyOf(doomed.body.url as string)]);
      // the api itself stays healthy
      await t.http.get('/healthz').expect(200);

      await s3.start();
      await t.http.get(kept.body.url as string).expect(200);
      await t.http
        .get(kept.body.url as string)
        .set('Range', 'bytes=0-9')
        .expect(206);
      await upload('/video/uploadCover', media.png()).expect(200);
      await half.put(1).expect(200);
      for (const [session, bytes] of [
        [half, file],
        [whole, wholeFile],
      ] as const) {
        const done = await session.complete().expect(200);
        const got = await t.http
          .get(done.body.url as string)
          .buffer(true)
          .expect(200);
        expect(md5(got.body as Buffer)).toBe(md5(bytes));
      }
      expect(await s3.has(keyOf(doomed.body.url as string))).toBe(true);
      expect((await t.app.get(UploadJanitor).sweep(Date.now() + 5 * 60_000)).deletedFiles).toBe(1);
      expect(await s3.has(keyOf(doomed.body.url as string))).toBe(false);
      expect(await t.sql('SELECT storage_key FROM file_deletions')).toEqual([]);
    });
  });
});

describe.each(PROFILES)('MEDIA_BASE_URL: a CDN in front (%s+s3)', (profile) => {
  const CDN = 'https://cdn.example.com/media';
  let t: TestApp;
  let alice: TestAccount;

  beforeAll(async () => {
    t = await startApp(profile, { s3: true, env: { MEDIA_BASE_URL: `${CDN}/` } });
    alice = await createAccount(t, 'cdn_a');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('returned URLs are <MEDIA_BASE_URL>/<key>; the origin still serves /static/<key>; a video published with them deletes its files with it', async () => {
    const play = await t.http
      .post('/video/uploadVideo')
      .set('Authorization', alice.auth)
      .attach('file', video(10 * KiB), 'v')
      .expect(200);
    const cover = await t.http
      .post('/video/uploadCover')
      .set('Authorization', alice.auth)
      .attach('file', media.png(), 'c')
      .expect(200);
    const keyRe = (dir: string) => new RegExp(`^${CDN}/(${dir}/\\d{4}/\\d{2}/[0-9a-f]{32}\\.[a-z0-9]+)$`);
    const playKey = keyRe('videos').exec(play.body.play_url as string)?.[1];
    const coverKey = keyRe('covers').exec(cover.body.cover_url as string)?.[1];
    expect(playKey).toBeDefined();
    expect(coverKey).toBeDefined();
    await t.http.get(`/static/${playKey}`).expect(200);

    const id = (
      await t.http
        .post('/video/publish')
        .set('Authorization', alice.auth)
        .send({ title: 'cdn', play_url: play.body.play_url, cover_url: cover.body.cover_url })
        .expect(200)
    ).body.id as number;
    await t.http.post('/video/delete').set('Authorization', alice.auth).send({ id }).expect(200);
    expect(await t.testEnv.s3!.has(playKey!)).toBe(false);
    expect(await t.testEnv.s3!.has(coverKey!)).toBe(false);
  });

  it('updateProfile takes the avatar URL uploadAvatar returned (and the /static/ form of it); another base, or someone else’s upload, is a 400', async () => {
    const avatar = (
      await t.http
        .post('/account/uploadAvatar')
        .set('Authorization', alice.auth)
        .attach('file', media.png(), 'a')
        .expect(200)
    ).body.avatar_url as string;
    expect(avatar).toMatch(new RegExp(`^${CDN}/avatars/\\d{4}/\\d{2}/[0-9a-f]{32}\\.png$`));
    const key = avatar.slice(CDN.length + 1);
    const set = (who: TestAccount, url: string) =>
      t.http.post('/account/updateProfile').set('Authorization', who.auth).send({ avatar_url: url });
    expect((await set(alice, avatar).expect(200)).body.avatar_url).toBe(avatar);
    await set(alice, `/static/${key}`).expect(200);
    const bob = await createAccount(t, 'cdn_b');
    for (const [who, url] of [
      [bob, avatar],
      [alice, `https://evil.example.com/media/${key}`],
      [alice, `${CDN}x/${key}`],
      [alice, `${CDN}/../media/${key}`],
      [alice, `${CDN}/${key}?v=1`],
    ] as const) {
      expectError(await set(who, url), 400, 'VALIDATION_FAILED');
    }
  });

  it('chunked uploads answer the CDN URL too', async () => {
    const file = video(1000);
    const init = await t.http
      .post('/video/chunk/init')
      .set('Authorization', alice.auth)
      .send({
        filename: 'c.webm',
        file_size: 1000,
        chunk_size: 64 * KiB,
        total_chunks: 1,
        file_hash: md5(file),
      })
      .expect(200);
    await t.http
      .post('/video/chunk/upload')
      .set('Authorization', alice.auth)
      .field('upload_id', init.body.upload_id as string)
      .field('chunk_index', '0')
      .field('chunk_hash', md5(file))
      .attach('file', file, 'blob')
      .expect(200);
    const done = await t.http
      .post('/video/chunk/complete')
      .set('Authorization', alice.auth)
      .send({ upload_id: init.body.upload_id })
      .expect(200);
    expect(done.body.play_url).toMatch(new RegExp(`^${CDN}/videos/\\d{4}/\\d{2}/[0-9a-f]{32}\\.webm$`));
    expect(done.body.url).toBe(done.body.play_url);
  });
});
