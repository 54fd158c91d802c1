import { isUtf8 } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError, ErrorCode, validationError } from '@app/core';

/** SPEC §1: the largest JSON body (the largest real one, a publish, is about 12 KiB). */
export const JSON_BODY_LIMIT = 64 * 1024;
/** Deepest nesting accepted: real bodies are flat objects (depth 1). */
export const JSON_MAX_DEPTH = 32;
/** Most values (array elements and object members together) accepted in one body. */
export const JSON_MAX_VALUES = 5000;

/**
 * A linear scan of the JSON text for its nesting depth and its number of values (array elements
 * and object members: each container's first item, then one per comma), before any parse: a deep
 * or wide body is refused (400) without building it, and later code never recurses deeper than
 * {@link JSON_MAX_DEPTH}. Returns the reason, or null when it is fine.
 */
export function jsonShapeProblem(text: string): string | null {
  let depth = 0;
  let values = 0;
  let inString = false;
  /** Just inside a `[` or `{`: the next token is its first item, or its closing bracket. */
  let opened = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (opened) {
      opened = false;
      if (c !== 0x7d && c !== 0x5d && ++values > JSON_MAX_VALUES) return tooManyValues();
    }
    if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > JSON_MAX_DEPTH) return `JSON body is nested more than ${JSON_MAX_DEPTH} levels deep`;
      opened = true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c) {
      if (++values > JSON_MAX_VALUES) return tooManyValues();
    }
  }
  return null;
}

function tooManyValues(): string {
  return `JSON body has more than ${JSON_MAX_VALUES} values`;
}

/**
 * Keys Fastify's parser refuses (`onProtoPoisoning` and `onConstructorPoisoning` set to `error`).
 * A body naming either is left to that parser, so every path answers it the same way.
 */
export function mayPoisonPrototype(text: string): boolean {
  return text.includes('__proto__') || text.includes('constructor');
}

/**
 * JSON is the only body the API parses (SPEC §1): Fastify's own parsers and Nest's form parser are
 * not installed, so any other content type is a 415 (multipart is added back by the upload
 * routes). `text/plain` is read as JSON too when the request has no `Origin` header
 * ({@link isJsonBody}): that is what `fetch` sends for a string body without a content type, and a
 * browser, the one client a foreign page can make send `text/plain` without a CORS preflight,
 * always names the page's origin on a cross-origin POST. JSON bodies are capped at
 * {@link JSON_BODY_LIMIT} (413), checked for depth and width (400), and parsed with Fastify's
 * prototype-poisoning protection. An empty body is `{}`, with or without a content type. Bodies are
 * read as bytes and decoded here: bytes that are not UTF-8 are a 400 saying so (read as a string,
 * each became U+FFFD and the body's length no longer matched `Content-Length`).
 */
export function registerJsonParser(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  const parse = fastify.getDefaultJsonParser('error', 'error');
  const parseJson = (req: FastifyRequest, body: string | Buffer, done: ContentTypeParserDone): void => {
    if (typeof body !== 'string' && !isUtf8(body)) {
      done(validationError('request body is not valid UTF-8'), undefined);
      return;
    }
    const text = typeof body === 'string' ? body : body.toString('utf8');
    // An empty body is `{}` (SPEC §8.4 allows one on markRead; a route that needs a field
    // still answers its 400 naming that field).
    if (text.trim() === '') {
      done(null, {});
      return;
    }
    const problem = jsonShapeProblem(text);
    if (problem !== null) {
      done(validationError(problem), undefined);
      return;
    }
    void parse(req, text, (err, value) => {
      // Valid JSON refused for a `__proto__` or `constructor.prototype` key: say so, not "malformed".
      done(err && mayPoisonPrototype(text) && isJson(text) ? forbiddenKey() : err, value);
    });
  };
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: JSON_BODY_LIMIT },
    parseJson,
  );
  fastify.addContentTypeParser(
    'text/plain',
    { parseAs: 'buffer', bodyLimit: JSON_BODY_LIMIT },
    (req, body, done) => {
      if (isJsonBody(req.headers)) parseJson(req, body, done);
      else done(unsupportedType(), undefined);
    },
  );
}

type ContentTypeParserDone = (err: Error | null, body?: unknown) => void;

/** The 415 of a body the API does not read (SPEC §1). */
export function unsupportedType(): DomainError {
  return new DomainError(ErrorCode.UnsupportedMediaType, 'unsupported content type; send application/json');
}

/**
 * Whether a request's body is read as JSON: `application/json`, or `text/plain` without an
 * `Origin` header (not a browser's cross-site form or fetch; see {@link registerJsonParser}).
 */
export function isJsonBody(headers: IncomingHttpHeaders): boolean {
  const type = mediaType(headers['content-type']);
  return type === 'application/json' || (type === 'text/plain' && headers.origin === undefined);
}

/** A content type's media type, lower-cased, without parameters ('' when absent). */
function mediaType(header: string | undefined): string {
  return header === undefined ? '' : header.split(';', 1)[0].trim().toLowerCase();
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The 400 for a body that Fastify's prototype-poisoning protection refuses. */
function forbiddenKey(): Error {
  return validationError('a JSON key named __proto__, or constructor.prototype, is not allowed');
}

/** `application/json`, with or without parameters (`; charset=utf-8`). */
export function isJsonContentType(header: string | undefined): boolean {
  return mediaType(header) === 'application/json';
}

/** A body given a JSON request's deadline: `application/json` or `text/plain` ({@link isJsonBody}). */
export function hasJsonDeadline(header: string | undefined): boolean {
  const type = mediaType(header);
  return type === 'application/json' || type === 'text/plain';
}
