/** What an upload really is, judged by its first bytes (never by its name or declared type). */
export interface SniffedType {
  ext: 'mp4' | 'webm' | 'jpg' | 'png' | 'webp';
  contentType: string;
  family: 'video' | 'image';
}

/** Bytes needed to decide. */
export const SNIFF_BYTES = 12;

export function sniffContentType(head: Buffer): SniffedType | null {
  if (head.length >= 8 && head.toString('latin1', 4, 8) === 'ftyp') {
    return { ext: 'mp4', contentType: 'video/mp4', family: 'video' };
  }
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) {
    return { ext: 'webm', contentType: 'video/webm', family: 'video' };
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
