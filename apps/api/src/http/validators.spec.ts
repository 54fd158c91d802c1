import { DomainError, ErrorCode } from '@app/core';
import { AppValidationPipe } from './validation.pipe';
import {
  cursorOrUndefined,
  IsCursor,
  IsEntityId,
  IsLimit,
  isMediaUrl,
  IsMediaUrl,
  IsText,
  isWellFormedText,
  LIST_LIMIT,
  MAX_ID,
  resolveLimit,
  Trim,
} from './validators';

class IdDto {
  @IsEntityId()
  id!: number;
}

class OptionalIdDto {
  @IsEntityId({ optional: true })
  account_id?: number;
}

class PageDto {
  @IsEntityId()
  video_id!: number;

  @IsCursor()
  id_before?: number;

  @IsLimit()
  limit?: number;
}

class TextDto {
  @IsText(1, 5)
  title!: string;

  @IsText(0, 10, { optional: true })
  bio?: string;
}

class UrlDto {
  @IsMediaUrl()
  play_url!: string;
}

class OnlyOptionalDto {
  @IsCursor()
  offset?: number;
}

class TrimDto {
  @Trim()
  @IsText(1, 50)
  name!: string;
}

const pipe = new AppValidationPipe();

function run<T>(metatype: new () => T, body: unknown): Promise<T> {
  return pipe.transform(body, { type: 'body', metatype }) as Promise<T>;
}

/** Resolves to the DomainError the pipe threw (fails the test if it resolved). */
async function rejection(metatype: new () => unknown, body: unknown): Promise<DomainError> {
  try {
    await run(metatype, body);
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    const e = err as DomainError;
    expect(e.code).toBe(ErrorCode.ValidationFailed);
    return e;
  }
  throw new Error(`expected ${JSON.stringify(body)} to be rejected`);
}

const fields = (e: DomainError): string[] => (e.details ?? []).map((d) => d.field);

describe('AppValidationPipe + validators', () => {
  describe('IsEntityId', () => {
    it.each([
      ['0', 0],
      ['negative', -1],
      ['fractional', 1.5],
      ['2^53', 2 ** 53],
      ['a numeric string', '1'],
      ['a boolean', true],
      ['null', null],
      ['an object', { id: 1 }],
    ])('rejects %s with details naming the field', async (_label, id) => {
      const e = await rejection(IdDto, { id });
      expect(e.details).toEqual([{ field: 'id', message: 'id must be a positive integer id' }]);
      expect(e.message).toBe('id must be a positive integer id');
    });

    it('rejects a missing required id', async () => {
      const e = await rejection(IdDto, {});
      expect(fields(e)).toEqual(['id']);
    });

    it.each([1, 42, MAX_ID])('accepts %p and returns a DTO instance', async (id) => {
      const dto = await run(IdDto, { id });
      expect(dto).toBeInstanceOf(IdDto);
      expect(dto.id).toBe(id);
    });

    it('optional: absent or null passes, a bad present value still fails', async () => {
      await expect(run(OptionalIdDto, {})).resolves.toEqual({});
      await expect(run(OptionalIdDto, { account_id: null })).resolves.toBeInstanceOf(OptionalIdDto);
      await expect(run(OptionalIdDto, { account_id: 3 })).resolves.toEqual({ account_id: 3 });
      const e = await rejection(OptionalIdDto, { account_id: 0 });
      expect(fields(e)).toEqual(['account_id']);
    });
  });

  describe('IsCursor', () => {
    it('treats 0 and absence as the first page', async () => {
      await expect(run(PageDto, { video_id: 1, id_before: 0 })).resolves.toMatchObject({ id_before: 0 });
      const dto = await run(PageDto, { video_id: 1 });
      expect(dto.id_before).toBeUndefined();
      expect(cursorOrUndefined(0)).toBeUndefined();
      expect(cursorOrUndefined(undefined)).toBeUndefined();
      expect(cursorOrUndefined(null)).toBeUndefined();
      expect(cursorOrUndefined(17)).toBe(17);
    });

    it('accepts positive integers up to 2^53 − 1', async () => {
      await expect(run(PageDto, { video_id: 1, id_before: MAX_ID })).resolves.toMatchObject({
        id_before: MAX_ID,
      });
    });

    it.each([-1, 1.5, 2 ** 53, '0', '5'])('rejects %p', async (id_before) => {
      const e = await rejection(PageDto, { video_id: 1, id_before });
      expect(e.details).toEqual([
        { field: 'id_before', message: 'id_before must be a non-negative integer' },
      ]);
    });
  });

  describe('IsLimit / resolveLimit', () => {
    it('accepts absent, 0 and any non-negative integer (clamping happens later)', async () => {
      expect((await run(PageDto, { video_id: 1 })).limit).toBeUndefined();
      await expect(run(PageDto, { video_id: 1, limit: 0 })).resolves.toMatchObject({ limit: 0 });
      await expect(run(PageDto, { video_id: 1, limit: 1000 })).resolves.toMatchObject({ limit: 1000 });
    });

    it.each([-1, 2.5, '10'])('rejects %p', async (limit) => {
      const e = await rejection(PageDto, { video_id: 1, limit });
      expect(fields(e)).toEqual(['limit']);
    });

    it('resolves absent/0 to the default and clamps to the maximum (lists: 200 / 200, SPEC §8.5)', () => {
      expect(LIST_LIMIT).toEqual({ default: 200, max: 200 });
      expect(resolveLimit(undefined)).toBe(200);
      expect(resolveLimit(0)).toBe(200);
      expect(resolveLimit(1)).toBe(1);
      expect(resolveLimit(200)).toBe(200);
      expect(resolveLimit(201)).toBe(200);
    });

    it('takes other bounds (feeds: 10 / 50; 51 is clamped, not reset)', () => {
      const feed = { default: 10, max: 50 };
      expect(resolveLimit(undefined, feed)).toBe(10);
      expect(resolveLimit(0, feed)).toBe(10);
      expect(resolveLimit(50, feed)).toBe(50);
      expect(resolveLimit(51, feed)).toBe(50);
    });
  });

  it('names every bad field in details, in declaration order', async () => {
    const e = await rejection(PageDto, { video_id: 0, id_before: -1, limit: -1 });
    expect(fields(e)).toEqual(['video_id', 'id_before', 'limit']);
    expect(e.message).toBe(e.details?.[0].message);
  });

  describe('IsText', () => {
    it('trims before validating', async () => {
      await expect(run(TextDto, { title: '  hi \n' })).resolves.toEqual({ title: 'hi' });
      await expect(run(TextDto, { title: 'x', bio: '  b  ' })).resolves.toEqual({ title: 'x', bio: 'b' });
    });

    it.each(['', '   ', '\t\n'])(
      'rejects a required text that is empty after trimming (%j)',
      async (title) => {
        const e = await rejection(TextDto, { title });
        expect(e.details).toEqual([{ field: 'title', message: 'title must not be empty' }]);
      },
    );

    it('rejects a missing required text and a non-string one (no coercion)', async () => {
      expect(fields(await rejection(TextDto, {}))).toEqual(['title']);
      const e = await rejection(TextDto, { title: 12 });
      expect(e.details).toEqual([{ field: 'title', message: 'title must be a string' }]);
    });

    it('counts characters as code points, after trimming', async () => {
      await expect(run(TextDto, { title: ' 😀😀😀😀😀 ' })).resolves.toEqual({ title: '😀😀😀😀😀' });
      const e = await rejection(TextDto, { title: 'abcdef' });
      expect(e.details).toEqual([{ field: 'title', message: 'title must be at most 5 characters' }]);
    });

    it('rejects text with an unpaired surrogate; pairs (emoji) pass', async () => {
      for (const title of ['a\ud800', '\udc00b', '\ude00\ud83d', 'x\ud83dy']) {
        const e = await rejection(TextDto, { title });
        expect(e.details).toEqual([
          { field: 'title', message: 'title must be valid Unicode text (it holds an unpaired surrogate)' },
        ]);
      }
      expect(fields(await rejection(TextDto, { title: 'x', bio: 'b\udfff' }))).toEqual(['bio']);
      await expect(run(TextDto, { title: '😀\ud83d\ude00' })).resolves.toEqual({ title: '😀😀' });
      expect(isWellFormedText('')).toBe(true);
      expect(isWellFormedText('\ud800\udc00')).toBe(true);
      expect(isWellFormedText('\udc00\ud800')).toBe(false);
    });

    it('optional: absent passes, "" passes when min is 0, a present non-string fails', async () => {
      await expect(run(TextDto, { title: 'x' })).resolves.toEqual({ title: 'x' });
      await expect(run(TextDto, { title: 'x', bio: '   ' })).resolves.toEqual({ title: 'x', bio: '' });
      expect(fields(await rejection(TextDto, { title: 'x', bio: 5 }))).toEqual(['bio']);
      expect(fields(await rejection(TextDto, { title: 'x', bio: 'b'.repeat(11) }))).toEqual(['bio']);
    });

    it('Trim leaves non-strings alone so the type check still sees them', async () => {
      await expect(run(TrimDto, { name: '  a  ' })).resolves.toEqual({ name: 'a' });
      expect(fields(await rejection(TrimDto, { name: ['a'] }))).toEqual(['name']);
    });
  });

  describe('IsMediaUrl', () => {
    it.each([
      '/static/x',
      '/static/videos/2024/a.mp4',
      'https://cdn.example.com/v.mp4',
      'http://localhost:8080/static/c.png?x=1',
      'https://firebasestorage.example.com/o/videos%2Fa.mp4?alt=media',
      'HTTPS://EXAMPLE.COM/a',
    ])('accepts %s', async (play_url) => {
      await expect(run(UrlDto, { play_url })).resolves.toEqual({ play_url });
    });

    it('trims before checking', async () => {
      await expect(run(UrlDto, { play_url: '  /static/x  ' })).resolves.toEqual({ play_url: '/static/x' });
    });

    it.each([
      'javascript:alert(1)',
      'JavaScript:alert(1)',
      ' javascript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox',
      'ftp://example.com/a',
      '//evil.example.com/a.mp4',
      'static/x',
      '/static/',
      '/static/../etc/passwd',
      '/static/a/../../b',
      '/static/%2e%2e/%2e%2e/docs',
      '/static/..\\..\\docs',
      '/static/./x',
      '/static/x?a=1',
      'http://localhost:8080/static/%2e%2e/docs',
      'https://cdn.example.com/a/../b',
      'https://cdn.example.com/a\\b',
      '/uploads/x',
      'http://',
      'https:///path',
      'http://exa mple.com/a',
      '',
      `https://example.com/${'a'.repeat(500)}`,
    ])('rejects %j', async (play_url) => {
      const e = await rejection(UrlDto, { play_url });
      expect(fields(e)).toEqual(['play_url']);
    });

    it('rejects non-strings', async () => {
      expect(fields(await rejection(UrlDto, { play_url: 1 }))).toEqual(['play_url']);
      expect(fields(await rejection(UrlDto, {}))).toEqual(['play_url']);
      expect(isMediaUrl(null)).toBe(false);
    });
  });

  describe('body shape', () => {
    it.each([
      ['an array', [{ id: 1 }]],
      ['a string', 'id=1'],
      ['a number', 1],
      ['a boolean', true],
    ])('rejects %s as not a JSON object', async (_label, body) => {
      const e = await rejection(IdDto, body);
      expect(e.message).toBe('request body must be a JSON object');
      expect(e.details).toEqual([]);
    });

    it.each([
      ['null', null],
      ['undefined', undefined],
      ['an empty string', ''],
    ])('reads %s as {}', async (_label, body) => {
      await expect(run(OnlyOptionalDto, body)).resolves.toEqual({});
      // ...so a required field is then reported as missing, not as a bad body.
      expect(fields(await rejection(IdDto, body))).toEqual(['id']);
    });

    it('strips unknown fields', async () => {
      const dto = await run(IdDto, { id: 3, is_admin: true, __proto__x: 1 });
      expect(dto).toEqual({ id: 3 });
      expect(Object.keys(dto)).toEqual(['id']);
    });

    it('does not reshape non-body arguments', async () => {
      await expect(pipe.transform('raw', { type: 'custom' })).resolves.toBe('raw');
    });
  });
});
