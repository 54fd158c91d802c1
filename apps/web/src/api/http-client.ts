import type { ApiErrorBody } from './types';

/** An error answered by the api (`{error, code, details?}`) or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { field: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const API_PREFIX = '/api';

interface AuthHooks {
  token: () => string | null;
  /** Called on a 401 for a request that carried a token; resolves to a new token to retry with, or null. */
  onUnauthorized: (error: ApiError) => Promise<string | null>;
}

let hooks: AuthHooks = { token: () => null, onUnauthorized: () => Promise.resolve(null) };

export function configureAuth(next: AuthHooks): void {
  hooks = next;
}

export interface RequestOptions {
  /** Send the bearer token when one is known (default true). */
  auth?: boolean;
  idempotencyKey?: string;
  signal?: AbortSignal;
}

function toApiError(status: number, body: unknown, fallback: string): ApiError {
  if (body && typeof body === 'object' && 'code' in body && 'error' in body) {
    const b = body as ApiErrorBody;
    return new ApiError(status, b.code, b.error, b.details ?? []);
  }
  return new ApiError(status, status >= 500 ? 'INTERNAL' : 'HTTP_ERROR', fallback);
}

function humanStatus(status: number): string {
  if (status === 413) return 'file too large';
  if (status === 429) return 'too many requests, try again shortly';
  if (status >= 500) return 'the server had a problem, try again';
  return `request failed (${status})`;
}

async function send<T>(path: string, body: unknown, opts: RequestOptions, token: string | null): Promise<T> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
  let res: Response;
  try {
    res = await fetch(API_PREFIX + path, {
      method: 'POST',
      headers,
      body: JSON.stringify(body ?? {}),
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'NETWORK', 'network error, check your connection');
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!res.ok) throw toApiError(res.status, parsed, humanStatus(res.status));
  return parsed as T;
}

/** POST a JSON body to `/api<path>`; resolves to the bare success object. */
export async function apiPost<T>(path: string, body: object = {}, opts: RequestOptions = {}): Promise<T> {
  const token = opts.auth === false ? null : hooks.token();
  try {
    return await send<T>(path, body, opts, token);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && token) {
      const next = await hooks.onUnauthorized(e);
      if (next) return send<T>(path, body, opts, next);
    }
    throw e;
  }
}

export interface UploadHandle<T> {
  promise: Promise<T>;
  abort: () => void;
}

/** Multipart upload (field `file`) with progress, via XMLHttpRequest for `upload.onprogress`. */
export function uploadFile<T>(
  path: string,
  file: Blob,
  filename: string,
  onProgress: (fraction: number) => void,
): UploadHandle<T> {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<T>((resolve, reject) => {
    xhr.open('POST', API_PREFIX + path);
    xhr.responseType = 'text';
    const token = hooks.token();
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable && ev.total > 0) onProgress(ev.loaded / ev.total);
    };
    xhr.onload = () => {
      let parsed: unknown = undefined;
      try {
        parsed = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
      } catch {
        parsed = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(parsed as T);
      } else {
        reject(toApiError(xhr.status, parsed, humanStatus(xhr.status)));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'upload failed: network error'));
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'upload cancelled'));
    const form = new FormData();
    form.append('file', file, filename);
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

/** A message for people from anything thrown. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.details.length > 0) return e.details.map((d) => `${d.field}: ${d.message}`).join('; ');
    return e.message;
  }
  if (e instanceof Error) return e.message;
  return 'something went wrong';
}

export function newIdempotencyKey(): string {
  if (typeof crypto !== 'undefined' && 'randomUUID' in crypto && window.isSecureContext) {
    return crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
