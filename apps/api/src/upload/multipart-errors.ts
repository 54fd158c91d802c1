import { Readable } from 'node:stream';
import type { LoggerService } from '@nestjs/common';
import type { MultipartFields } from '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, validationError } from '@app/core';
import { frameworkError } from '../http/all-exceptions.filter';

interface MultipartError {
  statusCode?: number;
  code?: string;
  message?: unknown;
}

/** Text fields a form may carry before its file. */
const MAX_FIELDS = 10;
/** Bytes of one text field; busboy cuts a longer value (`valueTruncated`). */
export const MAX_FIELD_BYTES = 1024;

/**
 * busboy's limits for a form of up to {@link MAX_FIELDS} text fields and one file of
 * `fileSize` bytes. Its field limit is one higher than the form's: busboy reports a breach only
 * once the file has started (the file stream is then closed under the route, which sees a
 * premature close), so the route counts the fields itself ({@link assertFieldCount}) and says so.
 */
export function multipartLimits(fileSize: number) {
  return { fileSize, files: 1, fields: MAX_FIELDS + 1, fieldSize: MAX_FIELD_BYTES, parts: MAX_FIELDS + 3 };
}

/** 413 `too many fields in the multipart body` past {@link MAX_FIELDS}. */
export function assertFieldCount(fields: MultipartFields): void {
  const count = Object.values(fields)
    .flatMap((f) => (Array.isArray(f) ? f : [f]))
    .filter((f) => f?.type === 'field').length;
  const tooMany = count > MAX_FIELDS ? frameworkError({ code: 'FST_FIELDS_LIMIT' }) : null;
  if (tooMany) throw tooMany;
}

/** What a stream reports when its source went away mid-way (Node's own error, or busboy's). */
const CUT_OFF = /unexpected end of (form|multipart)|premature close|aborted/i;

/**
 * Maps what @fastify/multipart and busboy throw to SPEC §1: the file-size limit to
 * `tooLarge()` (the route's "file is larger than …"), every other multipart limit (fields,
 * parts, files) and framework error to its own answer (`frameworkError`), any other client-side
 * failure (bad boundary, cut-off body) to a 400 naming the file. Anything else passes through.
 * Errors are recognised by their fields, not `instanceof`: stream errors may come from another
 * realm.
 */
export function translateMultipartError(err: unknown, tooLarge: () => DomainError): unknown {
  if (err instanceof DomainError) return err;
  const e = err !== null && typeof err === 'object' ? (err as MultipartError) : null;
  if (e?.code === 'FST_REQ_FILE_TOO_LARGE') return tooLarge();
  const known = frameworkError(err);
  if (known) return known;
  const malformed = () =>
    validationError('malformed multipart body', [{ field: 'file', message: 'file could not be read' }]);
  if (typeof e?.statusCode === 'number' && e.statusCode < 500) return malformed();
  if (
    e?.code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    (typeof e?.message === 'string' && (CUT_OFF.test(e.message) || /malformed|boundary/i.test(e.message)))
  ) {
    return malformed();
  }
  return err;
}

/**
 * The client closed the connection before its upload was read (a cancelled upload, a lost
 * network): its own abort, not a fault of ours. A body that arrived whole is not that, whatever
 * happened to the connection after it.
 */
export function clientGone(req: FastifyRequest, err: unknown): boolean {
  const raw = req.raw;
  if (raw.complete) return false;
  if (!raw.destroyed && !raw.readableAborted && !raw.socket?.destroyed) return false;
  const e = err !== null && typeof err === 'object' ? (err as MultipartError) : null;
  return (
    e?.code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    e?.code === 'ECONNRESET' ||
    (typeof e?.message === 'string' && CUT_OFF.test(e.message))
  );
}

/**
 * What an upload route throws for `err`. A client that went away mid-upload is logged as what it
 * is (info, no error id) and answered a 400 nobody reads; every other failure is answered, then
 * the connection is closed instead of draining the rest of the body.
 */
export function multipartFailure(
  req: FastifyRequest,
  reply: FastifyReply,
  err: unknown,
  tooLarge: () => DomainError,
  logger: LoggerService,
): unknown {
  if (clientGone(req, err)) {
    logger.log(`upload cut off: the client closed the connection (request ${req.id})`);
    return validationError('upload cut off: the client closed the connection', [
      { field: 'file', message: 'file was not received whole' },
    ]);
  }
  void reply.header('connection', 'close');
  lingerOnClose(req);
  return translateMultipartError(err, tooLarge);
}

/**
 * A multipart file's bytes, failing (a premature close, as Node says it) when the stream was torn
 * down before its end. @fastify/multipart destroys the file stream without an error when busboy
 * gives up on the form: a body that ended without its closing boundary, a limit, the request gone.
 * Piped later, such a stream does not fail: `pipeline` waits forever for its end (it was marked
 * ended, never emitted it), so the route would hang, holding its temporary file and its slot. Every
 * route reads its file through this.
 */
export async function* wholePart(file: Readable): AsyncGenerator<Buffer> {
  if (file.destroyed && !file.readableEnded) throw cutShort();
  for await (const chunk of file as AsyncIterable<Buffer>) yield chunk;
  if (!file.readableEnded) throw cutShort();
}

/** {@link wholePart} as a byte stream, for a service that takes one. */
export function wholePartStream(file: Readable): Readable {
  return Readable.from(wholePart(file), { objectMode: false });
}

function cutShort(): Error {
  return Object.assign(new Error('Premature close: the multipart file ended before its end'), {
    code: 'ERR_STREAM_PREMATURE_CLOSE',
  });
}

/**
 * Stops reading the request as soon as the file stream is torn down before its end (the service
 * refused it: too large, wrong type, quota, a store failure), or the file reached the size limit
 * (busboy's `limit`: it then ends the file and would discard the rest of the body as fast as it
 * comes): the client is then held back by TCP instead of streaming the rest of the body into a
 * parser that discards it while the refusal is cleaned up (an S3 multipart abort can take a
 * while). The answer's lingering close resumes it.
 */
export function pauseBodyOnAbort(
  req: FastifyRequest,
  file: NodeJS.ReadableStream & { readableEnded?: boolean },
): void {
  file.once('limit', () => req.raw.pause());
  file.once('close', () => {
    if (!file.readableEnded) req.raw.pause();
  });
}

const LINGER_MS = 2000;
const LINGER_BYTES = 8 * 1024 * 1024;

/**
 * After an early error answer (413/415) the client is usually still sending. Closing a socket
 * with unread bytes makes the kernel send a reset, and a reset can destroy the answer before
 * the client has read it. So: send FIN after the answer, discard what is still in flight for a
 * short, bounded time (and bytes), then close — a lingering close, as nginx does. The body is
 * still never read to its end.
 */
export function lingerOnClose(req: FastifyRequest): void {
  const raw = req.raw;
  const socket = raw.socket as (typeof raw.socket & { destroySoon?: () => void }) | null;
  if (!socket || socket.destroyed) return;
  socket.destroySoon = function lingeringClose(this: typeof socket): void {
    let discarded = 0;
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
    raw.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > LINGER_BYTES) this.destroy();
    });
    raw.resume();
    this.end();
  };
}
