/** What an upload really is, judged by its first bytes (never by its name or declared type). */
export interface SniffedType {
  ext: 'mp4' | 'webm' | 'jpg' | 'png' | 'webp';
  contentType: string;
  family: 'video' | 'image';
}

/**
 * Bytes read before deciding: enough for any real `ftyp` box and EBML header. A shorter file is
 * judged on what it has.
 */
export const SNIFF_BYTES = 4096;

/*
 * Hand-written rather than `file-type`: that package is ESM-only and Jest here runs CommonJS
 * (ts-jest), and only two container headers matter. Both are judged by what the container says
 * it is: an ISO-BMFF file by its `ftyp` brands (HEIF/AVIF images, M4A audio, QuickTime and 3GPP
 * share the box layout of MP4), an EBML file by its DocType (Matroska shares WebM's magic).
 */

/** MPEG-4 video major brands (ISO/IEC 14496-12/-14/-15, DASH, CMAF, Apple M4V, Sony XAVC). */
const MP4_BRANDS = new Set([
  'isom',
  'iso2',
  'iso3',
  'iso4',
  'iso5',
  'iso6',
  'iso7',
  'iso8',
  'iso9',
  'mp41',
  'mp42',
  'mp71',
  'avc1',
  'av01',
  'dash',
  'cmfc',
  'cmf2',
  'msnv',
  'mmp4',
  'M4V ',
  'M4VH',
  'M4VP',
  'f4v ',
  'XAVC',
  'NDAS',
]);

/** HEIF/AVIF still images and image sequences (ISO/IEC 23008-12, 23000-22, AV1-ISOBMFF). */
const IMAGE_BRANDS = new Set([
  'mif1',
  'mif2',
  'msf1',
  'miaf',
  'heic',
  'heix',
  'heim',
  'heis',
  'hevc',
  'hevx',
  'hevm',
  'hevs',
  'avif',
  'avis',
  'avio',
  'MiHA',
  'MiHB',
  'MiHE',
  'MiAB',
  'MiAC',
  'jpeg',
  'jp2 ',
  'jpx ',
  'jpm ',
  'mjp2',
  'crx ',
]);

/** Audio-only and other non-MP4 majors: iTunes audio/books, Flash audio, QuickTime. */
const OTHER_MAJORS = new Set(['M4A ', 'M4B ', 'M4P ', 'F4A ', 'F4B ', 'qt  ']);

/** `[major, ...compatible]` of an `ftyp` box at offset 0, or null. */
export function ftypBrands(head: Buffer): string[] | null {
  if (head.length < 16 || head.toString('latin1', 4, 8) !== 'ftyp') return null;
  const size = head.readUInt32BE(0);
  if (size < 16) return null;
  const end = Math.min(size, head.length);
  const brands = [head.toString('latin1', 8, 12)];
  for (let at = 16; at + 4 <= end; at += 4) brands.push(head.toString('latin1', at, at + 4));
  return brands;
}

function isMp4Video(brands: string[]): boolean {
  const [major, ...compatible] = brands;
  if (IMAGE_BRANDS.has(major) || OTHER_MAJORS.has(major) || major.startsWith('3g')) return false;
  if (brands.some((b) => IMAGE_BRANDS.has(b))) return false;
  return MP4_BRANDS.has(major) || compatible.some((b) => MP4_BRANDS.has(b));
}

/** An EBML variable-length integer at `at`: its value (with or without the length marker) and length. */
function readVint(buf: Buffer, at: number, keepMarker: boolean): { value: number; length: number } | null {
  if (at >= buf.length || buf[at] === 0) return null;
  const length = Math.clz32(buf[at]) - 23;
  if (at + length > buf.length) return null;
  let value = keepMarker ? buf[at] : buf[at] & (0xff >> length);
  for (let i = 1; i < length; i++) value = value * 256 + buf[at + i];
  return { value, length };
}

const EBML_ID = 0x1a45dfa3;
const DOCTYPE_ID = 0x4282;

/**
 * The DocType of an EBML header at offset 0 (`webm`, `matroska`…): `matroska` when the header
 * omits it (its default), null when this is no EBML header or it is cut off.
 */
export function ebmlDocType(head: Buffer): string | null {
  const id = readVint(head, 0, true);
  if (!id || id.value !== EBML_ID) return null;
  const size = readVint(head, id.length, false);
  if (!size) return null;
  const start = id.length + size.length;
  const end = start + size.value;
  let at = start;
  while (at < end) {
    const childId = readVint(head, at, true);
    if (!childId) return null;
    const childSize = readVint(head, at + childId.length, false);
    if (!childSize) return null;
    const data = at + childId.length + childSize.length;
    if (childId.value === DOCTYPE_ID) {
      if (data + childSize.value > head.length) return null;
      return head.toString('latin1', data, data + childSize.value).replace(/\0+$/, '');
    }
    at = data + childSize.value;
  }
  return end <= head.length ? 'matroska' : null;
}

const MP4: SniffedType = { ext: 'mp4', contentType: 'video/mp4', family: 'video' };
const WEBM: SniffedType = { ext: 'webm', contentType: 'video/webm', family: 'video' };

export function sniffContentType(head: Buffer): SniffedType | null {
  const brands = ftypBrands(head);
  if (brands) return isMp4Video(brands) ? MP4 : null;
  if (head.length >= 4 && head.readUInt32BE(0) === EBML_ID) {
    return ebmlDocType(head) === 'webm' ? WEBM : null;
  }
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) {
    return { ext: 'jpg', contentType: 'image/jpeg', family: 'image' };
  }
  if (head.length >= 4 && head.readUInt32BE(0) === 0x89504e47) {
    return { ext: 'png', contentType: 'image/png', family: 'image' };
  }
  if (
    head.length >= 12 &&
    head.toString('latin1', 0, 4) === 'RIFF' &&
    head.toString('latin1', 8, 12) === 'WEBP'
  ) {
    return { ext: 'webp', contentType: 'image/webp', family: 'image' };
  }
  return null;
}

const BY_EXT: Record<string, string> = {
  mp4: 'video/mp4',
  webm: 'video/webm',
  jpg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
};

/** Content type for a stored key; keys only ever carry the extensions above. */
export function contentTypeOfKey(key: string): string {
  return BY_EXT[key.slice(key.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
}
