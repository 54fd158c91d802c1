import { Transform } from 'class-transformer';
import { ValidateBy, ValidationArguments } from 'class-validator';
import { isValidPassword, isValidUsername, normalizeUsername, PASSWORD_MAX_BYTES } from '@app/account';
import { isWellFormedText, NOT_WELL_FORMED } from '../../http/validators';

/** Trims strings (SPEC §1: text input is trimmed; passwords are not). Other types pass through. */
export const Trim = (): PropertyDecorator =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value));

/**
 * `null` read as the field left out (SPEC §1), for an optional field of a partial update, whose
 * service tells absent from present by `undefined`: the value becomes `undefined` before validation.
 */
export const NullAsAbsent = (): PropertyDecorator =>
  Transform(({ value }: { value: unknown }) => (value === null ? undefined : value));

const typeMessage = (args: ValidationArguments | undefined, what: string): string | null => {
  if (args?.value === undefined || args.value === null) return `${args?.property} is required`;
  if (typeof args.value !== 'string') return `${args?.property} must be ${what}`;
  return null;
};

/**
 * SPEC §1 usernames: 1–32 letters (any script), digits, `_`, `.`, `-`, starting with a letter or
 * digit, after NFKC normalisation, with no invisible characters.
 */
export const IsUsername = (): PropertyDecorator =>
  ValidateBy({
    name: 'isUsername',
    validator: {
      validate: (v: unknown) => typeof v === 'string' && isValidUsername(normalizeUsername(v)),
      defaultMessage: (args) =>
        typeMessage(args, 'a string') ??
        `${args?.property} must be 1-32 characters: letters, digits, "_", "." or "-", starting with a letter or digit`,
    },
  });

/** SPEC §3.1 passwords: 6–72 bytes (UTF-8), taken exactly as sent. */
export const IsPassword = (): PropertyDecorator =>
  ValidateBy({
    name: 'isPassword',
    validator: {
      validate: (v: unknown) => typeof v === 'string' && isValidPassword(v),
      defaultMessage: (args) => typeMessage(args, 'a string') ?? `${args?.property} must be 6-72 bytes`,
    },
  });

/**
 * A password at login or as `old_password`: a non-empty string of at most 72 bytes (bcrypt reads
 * no further, so a longer one could never be the one registered; SPEC §3.1).
 */
export const IsLoginPassword = (): PropertyDecorator =>
  ValidateBy({
    name: 'isLoginPassword',
    validator: {
      validate: (v: unknown) =>
        typeof v === 'string' && v.length > 0 && Buffer.byteLength(v, 'utf8') <= PASSWORD_MAX_BYTES,
      defaultMessage: (args) =>
        typeMessage(args, 'a string') ??
        ((args?.value as string).length === 0
          ? `${args?.property} must not be empty`
          : `${args?.property} must be at most ${PASSWORD_MAX_BYTES} bytes`),
    },
  });

/** A required string, non-empty (after the Trim transform when applied), at most `max` characters. */
export const IsRequiredString = (max: number): PropertyDecorator =>
  ValidateBy({
    name: 'isRequiredString',
    validator: {
      validate: (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= max,
      defaultMessage: (args) =>
        typeMessage(args, 'a string') ??
        ((args?.value as string).length === 0
          ? `${args?.property} must not be empty`
          : `${args?.property} must be at most ${max} characters`),
    },
  });

/** An optional string (absent is fine; null or another type is a 400), at most `max` characters. */
export const IsOptionalString = (max: number): PropertyDecorator =>
  ValidateBy({
    name: 'isOptionalString',
    validator: {
      // Characters are code points (SPEC §1, as the database counts them), not UTF-16 units.
      validate: (v: unknown) =>
        v === undefined || (typeof v === 'string' && Array.from(v).length <= max && isWellFormedText(v)),
      defaultMessage: (args) =>
        typeof args?.value !== 'string'
          ? `${args?.property} must be a string`
          : isWellFormedText(args.value)
            ? `${args?.property} must be at most ${max} characters`
            : `${args?.property} ${NOT_WELL_FORMED}`,
    },
  });

/** SPEC §1 ids: a positive integer up to 2^53−1, sent as a JSON number. */
export const IsEntityId = (): PropertyDecorator =>
  ValidateBy({
    name: 'isEntityId',
    validator: {
      validate: (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1,
      defaultMessage: (args) =>
        args?.value === undefined || args.value === null
          ? `${args?.property} is required`
          : `${args?.property} must be a positive integer`,
    },
  });

/**
 * On one field of a patch: the body must carry at least one of `fields` (SPEC §3.1:
 * `updateProfile {}` is a 400), checked with the body's shape, so before authentication.
 */
export const RequiresOneOf = (fields: readonly string[], message: string): PropertyDecorator =>
  ValidateBy({
    name: 'requiresOneOf',
    validator: {
      validate: (_v: unknown, args?: ValidationArguments) => {
        const body = (args?.object ?? {}) as Record<string, unknown>;
        return fields.some((f) => body[f] !== undefined);
      },
      defaultMessage: () => message,
    },
  });
