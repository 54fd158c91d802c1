import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LocalFileStorage } from './local-file-storage';

const KEY = 'videos/2026/11/0123456789abcdef0123456789abcdef.webm';

async function text(body: Readable | null): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString();
}

describe('LocalFileStorage', () => {
  let dir: string;
  let storage: LocalFileStorage;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fsv-local-storage-'));
    storage = new LocalFileStorage(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('read: the stat and the bytes (or one range of them) from one open; past the end, the stat alone', async () => {
    await storage.put(KEY, Readable.from([Buffer.from('0123456789')]), 'video/webm');
    const stat = await storage.stat(KEY);
    const whole = await storage.read(KEY);
    expect(whole?.stat).toEqual(stat);
    expect(whole?.range).toBeNull();
    expect(await text(whole?.body ?? null)).toBe('0123456789');
    const cases = [
      [{ start: 2, end: 4 }, { start: 2, end: 4 }, '234'],
      [{ start: 7 }, { start: 7, end: 9 }, '789'],
      [{ start: 8, end: 500 }, { start: 8, end: 9 }, '89'],
      [{ suffix: 3 }, { start: 7, end: 9 }, '789'],
      [{ suffix: 50 }, { start: 0, end: 9 }, '0123456789'],
    ] as const;
    for (const [asked, served, bytes] of cases) {
      const r = await storage.read(KEY, asked);
      expect(r?.range).toEqual(served);
      expect(await text(r?.body ?? null)).toBe(bytes);
    }
    for (const asked of [{ start: 10 }, { suffix: 0 }]) {
      expect(await storage.read(KEY, asked)).toEqual({ stat, body: null, range: null });
    }
  });

  it('read: null for a missing object, a folder, or a key that is not one', async () => {
    expect(await storage.read(KEY)).toBeNull();
    await storage.put(KEY, Readable.from([Buffer.from('x')]), 'video/webm');
    expect(await storage.read('videos/2026/11/..')).toBeNull();
    expect(await storage.read('../../etc/passwd')).toBeNull();
  });

  it('ping: up while the uploads directory (or, before it exists, the one above) is writable; down when it is not a directory', async () => {
    expect(await storage.ping()).toBe('up');
    await storage.put(KEY, Readable.from([Buffer.from('x')]), 'video/webm');
    expect(await storage.ping()).toBe('up');
    rmSync(join(dir, 'uploads'), { recursive: true });
    writeFileSync(join(dir, 'uploads'), 'a file');
    expect(await storage.ping()).toBe('down');
  });
});
