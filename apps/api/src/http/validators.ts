import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsOptional, ValidateBy, ValidationArguments } from 'class-validator';

/** Largest id or cursor a JSON number carries exactly (2^53 − 1). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function rule(name: string, test: (v: unknown) => boolean, reason: string): PropertyDecorator {
  return ValidateBy({
    name,
    validator: {
      validate: (v: unknown) => test(v),
      defaultMessage: (args?: ValidationArguments) => `${args?.property ?? 'value'} ${reason}`,
    },
  });
}

/**
 * An id naming an entity (SPEC §1): a positive integer ≤ 2^53 − 1. 0, negative, fractional,
 * too large or not a number (strings included: nothing is coerced) is a 400.
 * `optional` lets the field be absent (or null): the route then uses its default.
 */
export function IsEntityId(opts: { optional?: boolean } = {}): PropertyDecorator {
  const check = rule('isEntityId', (v) => isInt(v) && v >= 1 && v <= MAX_ID, 'must be a positive integer id');
  return opts.optional ? applyDecorators(IsOptional(), check) : check;
}

/** A cursor (`id_before`, `id_after`, …): absent or 0 = first page; negative or fractional is a 400. */
export function IsCursor(): PropertyDecorator {
  return applyDecorators(
    IsOptional(),
    rule('isCursor', (v) => isInt(v) && v >= 0 && v <= MAX_ID, 'must be a non-negative integer'),
  );
}

/** A page size: absent or 0 = default, above the maximum clamped ({@link resolveLimit}). */
export function IsLimit(): PropertyDecorator {
  return applyDecorators(
    IsOptional(),
    rule('isLimit', (v) => isInt(v) && v >= 0, 'must be a non-negative integer'),
  );
}

/**
 * Videos by author, liked videos, comments, followers, vloggers: default 200, max 200 (SPEC §8.5:
 * the reference client never pages). Other lists pass their own bounds (feeds 10/50, messages and
 * notifications 50/200).
 */
export const LIST_LIMIT = { default: 200, max: 200 } as const;

export function resolveLimit(
  limit: number | undefined,
  bounds: { default: number; max: number } = LIST_LIMIT,
): number {
  if (limit === undefined || limit === null || limit === 0) return bounds.default;
  return Math.min(limit, bounds.max);
}

/** A cursor's "first page" (absent or 0) as undefined. */
export const cursorOrUndefined = (v: number | undefined | null): number | undefined => (v ? v : undefined);

/** Trims strings before validation (passwords excepted: never put this on them). */
export function Trim(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value));
}

const charLength = (s: string): number => Array.from(s).length;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether `s` is well-formed UTF-16 (no unpaired surrogate, which JSON's `\ud800` escapes can
 * carry): such text has no UTF-8 form, so each database would store its own replacement of it.
 */
export const isWellFormedText = (s: string): boolean => !LONE_SURROGATE.test(s);
export const NOT_WELL_FORMED = 'must be valid Unicode text (it holds an unpaired surrogate)';

/**
 * Text, trimmed, `min`–`max` characters (code points, as the database counts them). Required
 * unless `optional`: an optional field may be absent, a present one must still be a string.
 */
export function IsText(min: number, max: number, opts: { optional?: boolean } = {}): PropertyDecorator {
  const decorators = [
    Trim(),
    rule('isString', (v) => typeof v === 'string', 'must be a string'),
    rule(
      'minChars',
      (v) => typeof v === 'string' && charLength(v) >= min,
      min === 1 ? 'must not be empty' : `must be at least ${min} characters`,
    ),
    rule(
      'maxChars',
      (v) => typeof v === 'string' && charLength(v) <= max,
      `must be at most ${max} characters`,
    ),
    rule('wellFormed', (v) => typeof v === 'string' && isWellFormedText(v), NOT_WELL_FORMED),
  ];
  return applyDecorators(...(opts.optional ? [IsOptional(), ...decorators] : decorators));
}

const HTTP_URL = /^https?:\/\/[^\s/?#]+[^\s]*$/i;
/** An upload's key: segments of letters, digits, `_`, `-`, `.` that never start with a dot. */
const STATIC_PATH = /^\/static(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$/;
/** Ways to smuggle a path step past a check: a backslash, an encoded dot or backslash. */
const PATH_TRICKS = /\\|%2e|%5c/i;

/**
 * `http(s)://host/...` or `/static/<key>` only: no `javascript:`, `data:` or relative tricks.
 * A `/static/` path must be a plain key (no `%`, `\`, `.`/`..` segments, query or fragment); an
 * http(s) URL may not carry `\`, `%2e`, `%5c` or a `.`/`..` path segment (browsers resolve them).
 */
export function isMediaUrl(v: unknown): boolean {
  if (typeof v !== 'string' || v.length > 512) return false;
  if (v.startsWith('/')) return STATIC_PATH.test(v);
  if (!HTTP_URL.test(v) || PATH_TRICKS.test(v)) return false;
  const path = v.replace(/^https?:\/\/[^/?#]*/i, '').split(/[?#]/, 1)[0];
  if (path.split('/').some((seg) => seg === '.' || seg === '..')) return false;
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

export function IsMediaUrl(): PropertyDecorator {
  return applyDecorators(
    Trim(),
    rule('isMediaUrl', isMediaUrl, 'must be an http(s):// URL or a /static/ path (at most 512 characters)'),
  );
}
