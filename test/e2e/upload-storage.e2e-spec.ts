import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Response } from 'supertest';
import { FILE_STORAGE, STORAGE_HEALTH_OPTIONS, UploadJanitor } from '@app/storage';
import type { FileStorage } from '@app/storage';
import { createAccount, TestAccount } from '../factories/accounts';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { isStored, STORAGE_PROFILES } from '../helpers/stored-files';
import * as media from '../fixtures/media-fixtures';

jest.setTimeout(120_000);

const KiB = 1024;
const HOUR = 3600_000;
const keyOf = (url: string): string => url.slice(url.indexOf('/static/') + '/static/'.length);
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

/** Random bytes behind a real header, so every upload is distinct. */
const webm = (size: number): Buffer => {
  const b = randomBytes(size);
  media.ebml('webm').copy(b, 0);
  return b;
};
const png = (size = 2 * KiB): Buffer => {
  const b = randomBytes(size);
  media.png(16).copy(b, 0);
  return b;
};

describe.each(STORAGE_PROFILES)('upload storage lifecycle (%s)', (_label, profile, storage) => {
  let t: TestApp;
  let alice: TestAccount;
  let bob: TestAccount;

  beforeAll(async () => {
    t = await startApp(profile, { s3: storage === 's3' });
    alice = await createAccount(t, 'files_a');
    bob = await createAccount(t, 'files_b');
  });
  afterAll(async () => {
    await t?.close();
  });

  const upload = async (who: TestAccount, route: string, bytes: Buffer): Promise<string> => {
    const res = await t.http
      .post(route)
      .set('Authorization', who.auth)
      .attach('file', bytes, 'f')
      .expect(200);
    return (res.body.url ?? res.body.avatar_url) as string;
  };
  const publish = async (who: TestAccount, playUrl: string, coverUrl: string): Promise<number> => {
    const res = await t.http
      .post('/video/publish')
      .set('Authorization', who.auth)
      .send({ title: 'clip', play_url: playUrl, cover_url: coverUrl })
      .expect(200);
    return res.body.id as number;
  };
  const deleteVideo = (who: TestAccount, id: number) =>
    t.http.post('/video/delete').set('Authorization', who.auth).send({ id }).expect(200);
  /** Whether the file is still stored (on disk, or in the bucket). */
  const onDisk = (url: string): Promise<boolean> => isStored(t, keyOf(url));
  const uploadRow = async (url: string) =>
    (
      await t.sql<{ referenced: number }>('SELECT referenced FROM uploads WHERE storage_key = ?', [
        keyOf(url),
      ])
    )[0];
  const pending = async () =>
    t.sql<{ storage_key: string; attempts: number }>('SELECT storage_key, attempts FROM file_deletions');

  describe("a deleted video's files", () => {
    it('are deleted with it, at once: 404 on /static, no upload row, nothing on disk', async () => {
      const play = await upload(alice, '/video/uploadVideo', webm(5000));
      const cover = await upload(alice, '/video/uploadCover', png());
      const id = await publish(alice, play, cover);
      await t.http.get(play).expect(200);
      await deleteVideo(alice, id);
      await t.http.get(play).expect(404);
      await t.http.get(cover).expect(404);
      expect((await onDisk(play)) || (await onDisk(cover))).toBe(false);
      expect(await uploadRow(play)).toBeUndefined();
      expect(await uploadRow(cover)).toBeUndefined();
      expect(await pending()).toEqual([]);
    });

    it('a file given as an absolute URL is deleted too', async () => {
      const play = await upload(alice, '/video/uploadVideo', webm(3000));
      const id = await publish(alice, `https://media.example.com${play}`, 'https://cdn.example.com/c.jpg');
      await deleteVideo(alice, id);
      expect(await onDisk(play)).toBe(false);
    });

    it("a file still used by another of the author's videos, or as the author's avatar, is kept until the last use goes", async () => {
      const play1 = await upload(alice, '/video/uploadVideo', webm(3000));
      const play2 = await upload(alice, '/video/uploadVideo', webm(3000));
      const sharedCover = await upload(alice, '/video/uploadCover', png());
      const avatarCover = await upload(alice, '/video/uploadCover', png());
      const v1 = await publish(alice, play1, sharedCover);
      const v2 = await publish(alice, play2, sharedCover);
      const v3 = await publish(alice, play2, avatarCover);
      await t.http
        .post('/account/updateProfile')
        .set('Authorization', alice.auth)
        .send({ avatar_url: avatarCover })
        .expect(200);

      await deleteVideo(alice, v1);
      expect(await onDisk(play1)).toBe(false);
      await t.http.get(sharedCover).expect(200);
      await deleteVideo(alice, v2);
      await t.http.get(sharedCover).expect(404);
      await t.http.get(play2).expect(200); // v3 still plays it
      await deleteVideo(alice, v3);
      await t.http.get(play2).expect(404);
      await t.http.get(avatarCover).expect(200); // the avatar
      expect(await uploadRow(avatarCover)).toBeDefined();
    });

    it("someone else's file named by my video is never deleted with it", async () => {
      const bobs = await upload(bob, '/video/uploadVideo', webm(3000));
      const id = await publish(alice, bobs, '/static/covers/none.jpg');
      await deleteVideo(alice, id);
      await t.http.get(bobs).expect(200);
      expect(await uploadRow(bobs)).toBeDefined();
    });

    it('a failed file deletion is retried by the sweeper (the video is gone at once either way)', async () => {
      const storage = t.app.get<FileStorage>(FILE_STORAGE);
      const play = await upload(alice, '/video/uploadVideo', webm(3000));
      const id = await publish(alice, play, '/static/covers/none.jpg');
      const spy = jest.spyOn(storage, 'delete').mockRejectedValueOnce(new Error('storage unavailable'));
      try {
        await deleteVideo(alice, id);
      } finally {
        spy.mockRestore();
      }
      expectError(await t.http.post('/video/getDetail').send({ id }), 404, 'NOT_FOUND');
      expect(await onDisk(play)).toBe(true);
      expect((await pending()).map((r) => [r.storage_key, Number(r.attempts)])).toEqual([[keyOf(play), 1]]);
      // not due yet: left alone
      const janitor = t.app.get(UploadJanitor);
      expect((await janitor.sweep()).deletedFiles).toBe(0);
      expect(await onDisk(play)).toBe(true);
      // due: deleted
      expect((await janitor.sweep(Date.now() + 5 * 60_000)).deletedFiles).toBe(1);
      expect(await onDisk(play)).toBe(false);
      expect(await pending()).toEqual([]);
    });
  });

  describe('uploads nobody uses', () => {
    it('are collected a day after upload; those a video or the owner’s avatar uses are kept for good', async () => {
      const janitor = t.app.get(UploadJanitor);
      const unused = await upload(bob, '/video/uploadVideo', webm(2000));
      const unusedCover = await upload(bob, '/video/uploadCover', png());
      const played = await upload(bob, '/video/uploadVideo', webm(2000));
      const absolute = await upload(bob, '/video/uploadCover', png());
      const avatar = await upload(bob, '/account/uploadAvatar', png());
      const fresh = await upload(bob, '/video/uploadVideo', webm(2000));
      // alice's video names bob's file: a use like any other
      const byOther = await upload(bob, '/video/uploadVideo', webm(2000));
      await publish(bob, played, `http://localhost:8080${absolute}`);
      await publish(alice, byOther, '/static/covers/none.jpg');
      await t.http
        .post('/account/updateProfile')
        .set('Authorization', bob.auth)
        .send({ avatar_url: avatar })
        .expect(200);
      const old = Date.now() - 25 * HOUR;
      for (const u of [unused, unusedCover, played, absolute, avatar, byOther]) {
        await t.sql('UPDATE uploads SET create_time = ? WHERE storage_key = ?', [old, keyOf(u)]);
      }

      const run = await janitor.sweep();
      expect(run.collectedUploads).toBe(2);
      expect(run.keptUploads).toBe(4);
      for (const gone of [unused, unusedCover]) {
        await t.http.get(gone).expect(404);
        expect(await uploadRow(gone)).toBeUndefined();
        expect(await onDisk(gone)).toBe(false);
      }
      for (const kept of [played, absolute, avatar, byOther]) {
        await t.http.get(kept).expect(200);
        expect(Number((await uploadRow(kept)).referenced)).toBe(1);
      }
      await t.http.get(fresh).expect(200);
      expect(Number((await uploadRow(fresh)).referenced)).toBe(0);
      // a second pass finds nothing more to do
      const again = await janitor.sweep();
      expect(again.collectedUploads + again.keptUploads).toBe(0);
      // a collected avatar can no longer be set
      expectError(
        await t.http
          .post('/account/updateProfile')
          .set('Authorization', bob.auth)
          .send({ avatar_url: unusedCover }),
        400,
        'VALIDATION_FAILED',
      );
    });
  });
});

describe.each(STORAGE_PROFILES)('per-account storage quota (%s)', (_label, profile, storage) => {
  let t: TestApp;
  let alice: TestAccount;
  let bob: TestAccount;

  beforeAll(async () => {
    t = await startApp(profile, { s3: storage === 's3', env: { UPLOAD_QUOTA: '300KiB' } });
    alice = await createAccount(t, 'quota_a');
    bob = await createAccount(t, 'quota_b');
  });
  afterAll(async () => {
    await t?.close();
  });

  const post = (who: TestAccount, route: string, bytes: Buffer) =>
    t.http
      .post(route)
      .set('Authorization', who.auth)
      .attach('file', bytes, 'f')
      .catch((e: { response?: Response }) => e.response as Response);
  const count = async () => Number((await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM uploads'))[0].n);

  it('UPLOAD_QUOTA bounds the bytes each account keeps (uploads and open chunked uploads): 413 beyond it, nothing kept', async () => {
    const first = await post(alice, '/video/uploadVideo', webm(200 * KiB));
    expect(first.status).toBe(200);
    const rows = await count();
    expectError(
      await post(alice, '/video/uploadVideo', webm(200 * KiB)),
      413,
      'PAYLOAD_TOO_LARGE',
      'storage quota exceeded',
    );
    expect(await count()).toBe(rows);
    // an open chunked upload reserves its size
    const chunk = { filename: 'c.webm', chunk_size: 64 * KiB, total_chunks: 1 };
    const reserved = await t.http
      .post('/video/chunk/init')
      .set('Authorization', alice.auth)
      .send({ ...chunk, file_size: 60 * KiB, file_hash: md5(Buffer.from('a')) });
    expect(reserved.status).toBe(200);
    expectError(
      await t.http
        .post('/video/chunk/init')
        .set('Authorization', alice.auth)
        .send({ ...chunk, file_size: 60 * KiB, file_hash: md5(Buffer.from('b')) }),
      413,
      'PAYLOAD_TOO_LARGE',
      /quota/,
    );
    expectError(await post(alice, '/video/uploadCover', png(41 * KiB)), 413, 'PAYLOAD_TOO_LARGE', /quota/);
    await post(alice, '/video/uploadCover', png(30 * KiB)).then((r) => expect(r.status).toBe(200));
    // others have their own quota
    expect((await post(bob, '/video/uploadVideo', webm(200 * KiB))).status).toBe(200);
    // deleting a video frees its files' room
    const id = (
      await t.http
        .post('/video/publish')
        .set('Authorization', alice.auth)
        .send({ title: 'q', play_url: first.body.url, cover_url: '/static/covers/none.jpg' })
        .expect(200)
    ).body.id as number;
    await t.http.post('/video/delete').set('Authorization', alice.auth).send({ id }).expect(200);
    expect((await post(alice, '/video/uploadVideo', webm(200 * KiB))).status).toBe(200);
  });
});

describe.each(STORAGE_PROFILES)('/healthz reports file storage (%s)', (_label, profile, storage) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp(profile, {
      s3: storage === 's3',
      // Every /healthz probes afresh here (the api reuses a probe for 5 s).
      override: (b) => b.overrideProvider(STORAGE_HEALTH_OPTIONS).useValue({ ttlMs: 0, timeoutMs: 1000 }),
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Makes the storage unusable (the bucket's server stopped; the uploads directory a plain file); returns the repair. */
  const breakStorage = async (): Promise<() => Promise<void>> => {
    const s3 = t.testEnv.s3;
    if (s3) {
      await s3.stop();
      return () => s3.start();
    }
    const dir = join(t.config.dataDir, 'uploads');
    rmSync(dir, { recursive: true, force: true });
    writeFileSync(dir, 'not a directory');
    return () => Promise.resolve(rmSync(dir, { force: true }));
  };

  it('up while files can be stored; down while they cannot, still a 200 (only the database makes it a 503); up again after', async () => {
    expect((await t.http.get('/healthz').expect(200)).body).toMatchObject({ status: 'ok', storage: 'up' });
    const repair = await breakStorage();
    try {
      const started = Date.now();
      const res = await t.http.get('/healthz').expect(200);
      expect(res.body).toMatchObject({ status: 'ok', database: 'up', storage: 'down' });
      // The storage probe's 1 s timeout, with headroom for a loaded host.
      expect(Date.now() - started).toBeLessThan(1000 + 2000);
    } finally {
      await repair();
    }
    expect((await t.http.get('/healthz').expect(200)).body).toMatchObject({ status: 'ok', storage: 'up' });
  });
});
