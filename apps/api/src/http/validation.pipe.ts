import { ArgumentMetadata, Injectable, Type, ValidationError, ValidationPipe } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { FieldError, validationError } from '@app/core';

function flatten(errors: ValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const field = parent ? `${parent}.${e.property}` : e.property;
    for (const message of Object.values(e.constraints ?? {})) out.push({ field, message });
    if (e.children?.length) out.push(...flatten(e.children, field));
  }
  return out;
}

type MetadataStorage = ReturnType<typeof getMetadataStorage>;
type TargetMetadatas = MetadataStorage['getTargetValidationMetadatas'];

/**
 * class-validator looks a DTO's validation metadata up on every `validate` (twice with
 * `whitelist`), and that lookup walks every registered DTO class for inherited metadata: its cost
 * grows with the size of the api (~30 µs per request with ~60 DTOs, measured). The answers only
 * change when a decorator registers more metadata, so they are remembered per DTO until then.
 */
function memoizeMetadataLookups(storage: MetadataStorage): void {
  const marked = storage as MetadataStorage & { __memoized?: true };
  if (marked.__memoized) return;
  marked.__memoized = true;
  const lookup: TargetMetadatas = storage.getTargetValidationMetadatas.bind(storage);
  const add = storage.addValidationMetadata.bind(storage);
  let memo = new WeakMap<object, Map<string, ReturnType<TargetMetadatas>>>();
  storage.addValidationMetadata = (metadata) => {
    memo = new WeakMap();
    add(metadata);
  };
  storage.getTargetValidationMetadatas = (target, schema, always, strict, groups) => {
    const key = `${schema}\u0000${always}\u0000${strict}\u0000${groups?.join('\u0000') ?? ''}`;
    let byKey = memo.get(target);
    let out = byKey?.get(key);
    if (!out) {
      out = lookup(target, schema, always, strict, groups);
      if (!byKey) memo.set(target, (byKey = new Map<string, ReturnType<TargetMetadatas>>()));
      byKey.set(key, out);
    }
    return out;
  };
}
memoizeMetadataLookups(getMetadataStorage());

const known = new WeakMap<Type<unknown>, string[]>();

/** The properties a DTO declares validators for (the only ones `whitelist` would keep). */
function knownFields(metatype: Type<unknown>): string[] {
  let fields = known.get(metatype);
  if (!fields) {
    const metas = getMetadataStorage().getTargetValidationMetadatas(metatype, '', true, false);
    fields = [...new Set(metas.map((m) => m.propertyName))];
    known.set(metatype, fields);
  }
  return fields;
}

/**
 * The global pipe: class-validator DTOs, no implicit coercion (a string where a number is
 * expected is a 400). A body that is not a JSON object is a 400; an absent body reads as `{}`.
 * Unknown fields are dropped BEFORE class-transformer and class-validator see the body, so a
 * body of many unknown fields costs one pass over the DTO's own fields (SPEC §1: ignored).
 * A DTO already validated by the BodyShapeGuard passes through untouched.
 */
@Injectable()
export class AppValidationPipe extends ValidationPipe {
  constructor() {
    super({
      transform: true,
      whitelist: true,
      forbidUnknownValues: false,
      stopAtFirstError: true,
      validationError: { target: false, value: false },
      transformOptions: { enableImplicitConversion: false },
      exceptionFactory: (errors: ValidationError[]) => {
        const details = flatten(errors);
        return validationError(details[0]?.message ?? 'invalid request', details);
      },
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const metatype = metadata.metatype;
    if (metadata.type === 'body' && metatype && metatype !== Object) {
      if (value instanceof metatype) return value;
      if (value === undefined || value === null || value === '') value = {};
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw validationError('request body must be a JSON object');
      }
      const body = value as Record<string, unknown>;
      const picked: Record<string, unknown> = {};
      for (const f of knownFields(metatype as Type<unknown>)) {
        if (Object.prototype.hasOwnProperty.call(body, f)) picked[f] = body[f];
      }
      value = picked;
    }
    return super.transform(value, metadata);
  }
}
