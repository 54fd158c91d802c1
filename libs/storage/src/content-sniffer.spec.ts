import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as media from '../../../test/fixtures/media-fixtures';
import { ebmlDocType, ftypBrands, sniffContentType } from './content-sniffer';

describe('sniffContentType', () => {
  it.each([
    ['MP4 (isom)', media.mp4(), 'video/mp4'],
    ['MP4 (mp42)', media.ftyp('mp42', ['isom', 'mp42']), 'video/mp4'],
    ['M4V', media.ftyp('M4V ', ['M4V ', 'M4A ', 'mp42', 'isom']), 'video/mp4'],
    ['MP4 with an unlisted major but MP4 compatibles', media.ftyp('xyz1', ['isom', 'avc1']), 'video/mp4'],
    ['WebM', media.webm(), 'video/webm'],
    ['JPEG', media.jpg(), 'image/jpeg'],
    ['PNG', media.png(), 'image/png'],
    ['WebP', media.webp(), 'image/webp'],
  ])('%s is recognised', (_name, bytes, type) => {
    expect(sniffContentType(bytes)?.contentType).toBe(type);
  });

  it.each(Object.entries(media.lookAlikes))('%s is not taken for a video', (_name, make) => {
    expect(sniffContentType(make())).toBeNull();
  });

  it.each([
    ['text', media.text()],
    ['an ftyp box with no MP4 brand at all', media.ftyp('abcd', ['efgh'])],
    ['an ftyp box cut before its major brand', media.mp4().subarray(0, 10)],
    ['an EBML header cut before its DocType', media.webm().subarray(0, 20)],
    ['an empty file', Buffer.alloc(0)],
  ])('%s is unknown', (_name, bytes) => {
    expect(sniffContentType(bytes)).toBeNull();
  });

  it('reads the brands and the DocType', () => {
    expect(ftypBrands(media.lookAlikes.m4a())).toEqual(['M4A ', 'M4A ', 'mp42', 'isom']);
    expect(ebmlDocType(media.webm())).toBe('webm');
    expect(ebmlDocType(media.lookAlikes.matroska())).toBe('matroska');
    expect(ebmlDocType(media.ebml(null))).toBe('matroska');
    expect(ebmlDocType(media.png())).toBeNull();
  });

  it('the real WebM fixture (recorded by a browser) is a WebM', () => {
    const clip = readFileSync(join(__dirname, '..', '..', '..', 'test', 'fixtures', 'clip.webm'));
    expect(sniffContentType(clip.subarray(0, 4096))?.contentType).toBe('video/webm');
  });
});
