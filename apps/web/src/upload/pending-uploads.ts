/**
 * Chunked uploads this browser started and has not finished, kept in localStorage so that after a
 * reload the same file can be resumed without hashing it again (the server finds the session by
 * the file's MD5: SPEC §8.1). A record is only a hint: the server checks every part and the whole.
 */
export interface PendingUpload {
  key: string;
  owner: number | null;
  name: string;
  size: number;
  lastModified: number;
  partSize: number;
  fileHash: string;
  partHashes: string[];
  savedAt: number;
}

const STORAGE_KEY = 'fsv.pendingUploads';
/** Sessions live 24 h after their last part; older records can only miss. */
const MAX_AGE_MS = 24 * 3600_000;
const MAX_RECORDS = 5;

export function fileKey(file: Blob, name: string): string {
  const modified = file instanceof File ? file.lastModified : 0;
  return `${name}|${file.size}|${modified}`;
}

function read(): PendingUpload[] {
  try {
    const raw: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '[]');
    if (!Array.isArray(raw)) return [];
    const now = Date.now();
    return (raw as PendingUpload[]).filter(
      (r) => r && typeof r.key === 'string' && Array.isArray(r.partHashes) && now - r.savedAt < MAX_AGE_MS,
    );
  } catch {
    return [];
  }
}

function write(list: PendingUpload[]): void {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(list.slice(-MAX_RECORDS)));
  } catch {
    /* private mode or full: resuming then hashes the file again */
  }
}

export function pendingUploads(owner: number | null): PendingUpload[] {
  return read().filter((r) => r.owner === owner);
}

export function findPending(key: string, owner: number | null, partSize: number): PendingUpload | null {
  return read().find((r) => r.key === key && r.owner === owner && r.partSize === partSize) ?? null;
}

export function savePending(rec: PendingUpload): void {
  write([...read().filter((r) => !(r.key === rec.key && r.owner === rec.owner)), rec]);
}

export function dropPending(key: string, owner: number | null): void {
  write(read().filter((r) => !(r.key === key && r.owner === owner)));
}
