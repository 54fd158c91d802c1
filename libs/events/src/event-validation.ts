import { ROUTING_KEYS, type DomainEvent, type PopularityReason, type RoutingKey } from './events';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REASONS: readonly PopularityReason[] = ['like', 'unlike', 'comment', 'comment_delete'];

type FieldCheck = (v: unknown) => boolean;
const id: FieldCheck = (v) => Number.isSafeInteger(v) && (v as number) > 0;
const ts: FieldCheck = (v) => Number.isSafeInteger(v) && (v as number) > 0;
const uuid: FieldCheck = (v) => typeof v === 'string' && UUID.test(v);

const LIKE = { event_id: uuid, account_id: id, video_id: id, ts };
const COMMENT = { event_id: uuid, account_id: id, video_id: id, comment_id: id, ts };
const SOCIAL = { event_id: uuid, follower_id: id, vlogger_id: id, ts };
const POPULARITY = {
  event_id: uuid,
  video_id: id,
  delta: (v: unknown) => Number.isSafeInteger(v) && v !== 0,
  reason: (v: unknown) => REASONS.includes(v as PopularityReason),
  ts,
};

/** A field that may be absent (then left out of the payload), else must pass `check`. */
const optional =
  (check: FieldCheck): FieldCheck =>
  (v) =>
    v === undefined || check(v);
const tagList: FieldCheck = (v) =>
  Array.isArray(v) &&
  v.length <= 100 &&
  v.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 200);

const VIDEO = { event_id: uuid, video_id: id, author_id: id, create_time: ts, tags: optional(tagList), ts };

const SCHEMAS: Record<RoutingKey, Record<string, FieldCheck>> = {
  'like.like': LIKE,
  'like.unlike': LIKE,
  'comment.publish': COMMENT,
  'comment.delete': COMMENT,
  'social.follow': SOCIAL,
  'social.unfollow': SOCIAL,
  'video.popularity.update': POPULARITY,
  'video.publish': VIDEO,
};

export type ParseResult = { ok: true; event: DomainEvent } | { ok: false; error: string };

/**
 * A message body as a typed event, or why not. Pipes never see messages, so the consumer
 * checks every field itself; unknown extra fields are dropped.
 */
export function parseEvent(routingKey: string, body: Buffer | string): ParseResult {
  if (!(ROUTING_KEYS as string[]).includes(routingKey)) {
    return { ok: false, error: `unknown routing key "${routingKey}"` };
  }
  const key = routingKey as RoutingKey;
  let data: unknown;
  try {
    data = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return { ok: false, error: 'body is not JSON' };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, error: 'body is not a JSON object' };
  }
  const record = data as Record<string, unknown>;
  const payload: Record<string, unknown> = {};
  const bad: string[] = [];
  for (const [field, check] of Object.entries(SCHEMAS[key])) {
    if (!check(record[field])) bad.push(field);
    else if (record[field] !== undefined) payload[field] = record[field];
  }
  if (bad.length > 0) return { ok: false, error: `invalid or missing ${bad.join(', ')}` };
  return { ok: true, event: { routingKey: key, payload } as unknown as DomainEvent };
}
