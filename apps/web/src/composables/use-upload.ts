import { computed, getCurrentInstance, onBeforeUnmount, reactive, type ComputedRef } from 'vue';
import { ApiError, errorMessage } from '../api/http-client';

export type UploadStatus = 'idle' | 'active' | 'done' | 'error' | 'cancelled';
/** What an active upload is doing: reading the file, sending it, offline, or the server assembling it. */
export type UploadPhase = 'hashing' | 'uploading' | 'waiting' | 'finishing';

export interface UploadState {
  name: string;
  status: UploadStatus;
  phase: UploadPhase;
  /** Bytes done in the current phase, out of `total` (the file's size). */
  loaded: number;
  total: number;
  /** The URL the server answered, once done. */
  url: string;
  error: string | null;
  /** Something worth telling besides the progress (e.g. parts resumed). */
  note: string | null;
}

export interface UploadControl {
  signal: AbortSignal;
  progress: (loaded: number, phase?: UploadPhase) => void;
  note: (text: string | null) => void;
}

/** Sends one file; resolves to the URL the server stored it at. */
export type UploadRunner = (file: Blob, name: string, ctl: UploadControl) => Promise<string>;

export interface Upload {
  state: UploadState;
  /** 0–1 of the current phase. */
  fraction: ComputedRef<number>;
  busy: ComputedRef<boolean>;
  /** Starts (or restarts) an upload; resolves to its URL, or null when it failed or was cancelled. */
  start: (file: Blob, name: string) => Promise<string | null>;
  /** The last file again (a resumable runner then continues where it stopped). */
  retry: () => Promise<string | null>;
  cancel: () => void;
  reset: () => void;
}

function fresh(): UploadState {
  return {
    name: '',
    status: 'idle',
    phase: 'uploading',
    loaded: 0,
    total: 0,
    url: '',
    error: null,
    note: null,
  };
}

const isAbort = (e: unknown) =>
  (e instanceof DOMException && e.name === 'AbortError') || (e instanceof ApiError && e.code === 'ABORTED');

/**
 * The state machine every upload in the client shares: idle → active (with byte progress and a
 * phase) → done | error | cancelled; a new start or a cancel aborts the run in flight, and so
 * does leaving the component that owns it. `maxBytes` is checked before anything is sent.
 */
export function useUpload(runner: UploadRunner, limits: { maxBytes: number; tooLarge: string }): Upload {
  const state = reactive<UploadState>(fresh());
  let controller: AbortController | null = null;
  let last: { file: Blob; name: string } | null = null;

  async function start(file: Blob, name: string): Promise<string | null> {
    controller?.abort();
    last = { file, name };
    if (file.size > limits.maxBytes) {
      Object.assign(state, fresh(), { name, status: 'error', error: limits.tooLarge });
      return null;
    }
    const own = new AbortController();
    controller = own;
    Object.assign(state, fresh(), { name, status: 'active', phase: 'uploading', total: file.size });
    const mine = () => controller === own;
    try {
      const url = await runner(file, name, {
        signal: own.signal,
        progress: (loaded, phase) => {
          if (!mine()) return;
          state.loaded = Math.min(file.size, loaded);
          if (phase) state.phase = phase;
        },
        note: (text) => {
          if (mine()) state.note = text;
        },
      });
      if (!mine()) return null;
      Object.assign(state, { status: 'done', url, loaded: file.size, error: null });
      controller = null;
      return url;
    } catch (e) {
      if (!mine()) return null;
      controller = null;
      if (isAbort(e)) {
        Object.assign(state, { status: 'cancelled', error: null });
      } else {
        Object.assign(state, { status: 'error', error: errorMessage(e) });
      }
      return null;
    }
  }

  function cancel(): void {
    if (!controller) return;
    controller.abort();
    controller = null;
    Object.assign(state, { status: 'cancelled', error: null });
  }

  function reset(): void {
    controller?.abort();
    controller = null;
    last = null;
    Object.assign(state, fresh());
  }

  if (getCurrentInstance()) onBeforeUnmount(() => controller?.abort());

  return {
    state,
    fraction: computed(() => (state.total > 0 ? state.loaded / state.total : 0)),
    busy: computed(() => state.status === 'active'),
    start,
    retry: () => (last ? start(last.file, last.name) : Promise.resolve(null)),
    cancel,
    reset,
  };
}
