import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, type ReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { validationError } from '@app/core';
import { spoolPart, SpoolSlots } from './spooled-part';

const spools = (): string[] => readdirSync(tmpdir()).filter((f) => f.startsWith('fsv-part-'));

describe('spoolPart', () => {
  it('keeps the bytes until removed, readable more than once', async () => {
    const bytes = randomBytes(200_000);
    const spool = await spoolPart(Readable.from([bytes.subarray(0, 70_000), bytes.subarray(70_000)]), () =>
      validationError('too large'),
    );
    expect((await buffer(spool.read())).equals(bytes)).toBe(true);
    const again = spool.read() as ReadStream;
    expect((await buffer(again)).equals(bytes)).toBe(true);
    expect(existsSync(String(again.path))).toBe(true);
    await spool.remove();
    await spool.remove(); // twice is fine
    expect(existsSync(String(again.path))).toBe(false);
  });

  it('a file busboy cut at its limit is tooLarge(), and nothing is left behind', async () => {
    const before = spools();
    const cut = Object.assign(Readable.from([Buffer.from('abc')]), { truncated: true });
    await expect(spoolPart(cut, () => validationError('part too large'))).rejects.toThrow('part too large');
    expect(spools()).toEqual(before);
  });
});

describe('SpoolSlots', () => {
  it('gives each account its share and all of them the whole, and takes slots back', () => {
    const slots = new SpoolSlots(2, 3);
    expect([slots.take(1), slots.take(1), slots.take(1)]).toEqual([true, true, false]);
    expect(slots.take(2)).toBe(true);
    expect(slots.take(3)).toBe(false); // 3 in use overall
    slots.give(1);
    expect(slots.take(3)).toBe(true);
    expect(slots.take(1)).toBe(false);
    slots.give(2);
    slots.give(2); // not held: no effect
    expect(slots.take(1)).toBe(true);
  });
});
