import type { ApiErrorBody, ApiPath, RequestOf, ResponseOf } from './types';

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

  /** Seconds from `Retry-After` (429, 503), when the server sent one. */
  retryAfter?: number;
  /** The parsed error body, for routes that add fields to SPEC §1's (e.g. `/video/chunk/complete`). */
  body?: unknown;
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
  if (!res.ok) {
    const err = toApiError(res.status, parsed, humanStatus(res.status));
    err.retryAfter = Number(res.headers.get('Retry-After')) || undefined;
    err.body = parsed;
    throw err;
  }
  return parsed as T;
}

/**
 * POST a JSON body to `/api<path>`; resolves to the bare success object. Path, body and result
 * are typed by the OpenAPI document (types.ts).
 */
export async function apiPost<P extends ApiPath>(
  path: P,
  body: RequestOf<P>,
  opts: RequestOptions = {},
): Promise<ResponseOf<P>> {
  const token = opts.auth === false ? null : hooks.token();
  try {
    return await send<ResponseOf<P>>(path, body, opts, token);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && token) {
      const next = await hooks.onUnauthorized(e);
      if (next) return send<ResponseOf<P>>(path, body, opts, next);
    }
    throw e;
  }
}

export interface MultipartOptions {
  signal?: AbortSignal;
  /** Bytes of `file` sent so far (the form's own few bytes of framing are not counted). */
  onProgress?: (loaded: number) => void;
}

function sendMultipart<T>(
  path: string,
  form: FormData,
  size: number,
  opts: MultipartOptions,
  token: string | null,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new ApiError(0, 'ABORTED', 'upload cancelled'));
      return;
    }
    const xhr = new XMLHttpRequest();
    const onAbort = () => xhr.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => opts.signal?.removeEventListener('abort', onAbort);
    xhr.open('POST', API_PREFIX + path);
    xhr.responseType = 'text';
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable && ev.total > 0)
        opts.onProgress?.(Math.min(size, (ev.loaded / ev.total) * size));
    };
    xhr.onload = () => {
      settle();
      let parsed: unknown = undefined;
      try {
        parsed = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
      } catch {
        parsed = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        opts.onProgress?.(size);
        resolve(parsed as T);
      } else {
        const err = toApiError(xhr.status, parsed, humanStatus(xhr.status));
        err.retryAfter = Number(xhr.getResponseHeader('Retry-After')) || undefined;
        err.body = parsed;
        reject(err);
      }
    };
    xhr.onerror = () => {
      settle();
      reject(new ApiError(0, 'NETWORK', 'upload failed: network error'));
    };
    xhr.onabort = () => {
      settle();
      reject(new ApiError(0, 'ABORTED', 'upload cancelled'));
    };
    xhr.send(form);
  });
}

/**
 * Multipart POST via XMLHttpRequest (for `upload.onprogress`): the text `fields` first, in order,
 * then `file` (SPEC §8.1 needs the fields before the file). A 401 refreshes the session and
 * retries once, as `apiPost` does.
 */
export async function postMultipart<T>(
  path: string,
  fields: Record<string, string>,
  file: Blob,
  filename: string,
  opts: MultipartOptions = {},
): Promise<T> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', file, filename);
  const token = hooks.token();
  try {
    return await sendMultipart<T>(path, form, file.size, opts, token);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && token) {
      const next = await hooks.onUnauthorized(e);
      if (next) return sendMultipart<T>(path, form, file.size, opts, next);
    }
    throw e;
  }
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
