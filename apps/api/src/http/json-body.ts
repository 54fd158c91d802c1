import type { FastifyInstance } from 'fastify';
import { validationError } from '@app/core';

/** SPEC §1: the largest JSON body (the largest real one, a publish, is about 12 KiB). */
export const JSON_BODY_LIMIT = 64 * 1024;
/** Deepest nesting accepted: real bodies are flat objects (depth 1). */
export const JSON_MAX_DEPTH = 32;
/** Most values (array elements and object members together) accepted in one body. */
export const JSON_MAX_VALUES = 5000;

/**
 * A linear scan of the JSON text for its nesting depth and its number of values, before any
 * parse: a deep or wide body is refused (400) without building it, and later code never
 * recurses deeper than {@link JSON_MAX_DEPTH}. Returns the reason, or null when it is fine.
 */
export function jsonShapeProblem(text: string): string | null {
  let depth = 0;
  let values = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > JSON_MAX_DEPTH) return `JSON body is nested more than ${JSON_MAX_DEPTH} levels deep`;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c) {
      if (++values > JSON_MAX_VALUES) return `JSON body has more than ${JSON_MAX_VALUES} values`;
    }
  }
  return null;
}

/**
 * JSON is the only body the API parses (SPEC §1): Fastify's own parsers (text/plain too) and
 * Nest's form parser are not installed, so any other content type is a 415 (multipart is added
 * back by the upload routes). JSON bodies are capped at {@link JSON_BODY_LIMIT} (413), checked
 * for depth and width (400), and parsed with Fastify's prototype-poisoning protection.
 */
export function registerJsonParser(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  const parse = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: JSON_BODY_LIMIT },
    (req, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      const problem = jsonShapeProblem(text);
      if (problem !== null) {
        done(validationError(problem), undefined);
        return;
      }
      void parse(req, text, done);
    },
  );
}

/** `application/json`, with or without parameters (`; charset=utf-8`). */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const type = header.split(';', 1)[0].trim().toLowerCase();
  return type === 'application/json';
}
