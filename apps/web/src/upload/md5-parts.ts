import SparkMD5 from 'spark-md5';

export interface FileDigest {
  /** MD5 of the whole file, 32 lowercase hex digits. */
  fileHash: string;
  /** MD5 of each `chunkSize` slice, in order (the last one the rest). */
  partHashes: string[];
}

/**
 * MD5 of the whole file and of each part in one pass, reading one part at a time (spark-md5's
 * incremental hasher: never more than one part of the file in memory).
 */
export async function digestParts(
  file: Blob,
  chunkSize: number,
  onProgress: (hashedBytes: number) => void,
  isCancelled: () => boolean = () => false,
): Promise<FileDigest> {
  const whole = new SparkMD5.ArrayBuffer();
  const partHashes: string[] = [];
  for (let start = 0; start < file.size; start += chunkSize) {
    if (isCancelled()) throw new DOMException('hashing cancelled', 'AbortError');
    const buf = await file.slice(start, Math.min(file.size, start + chunkSize)).arrayBuffer();
    whole.append(buf);
    partHashes.push(SparkMD5.ArrayBuffer.hash(buf));
    onProgress(Math.min(file.size, start + chunkSize));
  }
  return { fileHash: whole.end(), partHashes };
}
