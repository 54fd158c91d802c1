import { randomUUID } from 'node:crypto';

/**
 * Every exchange, routing key and payload of SPEC §4, in one file. Producers, consumers,
 * the outbox relay and the topology declaration all read this.
 */
export const Exchange = {
  Like: 'like.events',
  Comment: 'comment.events',
  Social: 'social.events',
  Popularity: 'video.popularity.events',
  /** Ours (issue 14): a published video, fanned out to its author's followers' timelines. */
  Video: 'video.events',
} as const;
export type ExchangeName = (typeof Exchange)[keyof typeof Exchange];

export interface LikeEventPayload {
  event_id: string;
  account_id: number;
  video_id: number;
  ts: number;
}

export interface CommentEventPayload {
  event_id: string;
  account_id: number;
  video_id: number;
  comment_id: number;
  ts: number;
}

export interface SocialEventPayload {
  event_id: string;
  follower_id: number;
  vlogger_id: number;
  ts: number;
}

export type PopularityReason = 'like' | 'unlike' | 'comment' | 'comment_delete';

export interface PopularityEventPayload {
  event_id: string;
  video_id: number;
  delta: number;
  reason: PopularityReason;
  ts: number;
}

/**
 * Ours: `create_time` is the video's (unix ms), so a timeline orders it without a read; `tags`
 * its tags (normalised names) for the tag indexes (absent in events from before they existed).
 */
export interface VideoEventPayload {
  event_id: string;
  video_id: number;
  author_id: number;
  create_time: number;
  tags?: string[];
  ts: number;
}

/** Routing key → payload type. */
export interface EventPayloads {
  'like.like': LikeEventPayload;
  'like.unlike': LikeEventPayload;
  'comment.publish': CommentEventPayload;
  'comment.delete': CommentEventPayload;
  'social.follow': SocialEventPayload;
  'social.unfollow': SocialEventPayload;
  'video.popularity.update': PopularityEventPayload;
  'video.publish': VideoEventPayload;
}

export type RoutingKey = keyof EventPayloads;

/** Routing key → its exchange. */
export const EXCHANGE_OF: Record<RoutingKey, ExchangeName> = {
  'like.like': Exchange.Like,
  'like.unlike': Exchange.Like,
  'comment.publish': Exchange.Comment,
  'comment.delete': Exchange.Comment,
  'social.follow': Exchange.Social,
  'social.unfollow': Exchange.Social,
  'video.popularity.update': Exchange.Popularity,
  'video.publish': Exchange.Video,
};

export const ROUTING_KEYS = Object.keys(EXCHANGE_OF) as RoutingKey[];

export interface DomainEvent<K extends RoutingKey = RoutingKey> {
  routingKey: K;
  payload: EventPayloads[K];
}

type Body<K extends RoutingKey> = Omit<EventPayloads[K], 'event_id' | 'ts'>;

/** A new event with a fresh `event_id`; `ts` defaults to now (unix ms). */
export function makeEvent<K extends RoutingKey>(
  routingKey: K,
  body: Body<K>,
  ts: number = Date.now(),
): DomainEvent<K> {
  return { routingKey, payload: { ...body, event_id: randomUUID(), ts } as EventPayloads[K] };
}
