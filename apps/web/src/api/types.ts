/**
 * The wire types, all taken from the api's OpenAPI document (openapi.gen.ts, `npm run gen:api`):
 * this file only names them. Times: entities carry ISO strings, feed items unix seconds.
 */
import type { components, paths } from './openapi.gen';

type Schemas = components['schemas'];

/** Every route the client may POST a JSON body to (SPEC §1: every api route is a POST). */
export type ApiPath = {
  [P in keyof paths]: paths[P] extends { post: { requestBody: { content: { 'application/json': unknown } } } }
    ? P
    : never;
}[keyof paths];

/** The JSON body a route takes, as the document describes it. */
export type RequestOf<P extends ApiPath> = paths[P]['post'] extends {
  requestBody: { content: { 'application/json': infer B } };
}
  ? B
  : never;

/** The 200 body a route answers, as the document describes it (`unknown` where it gives no schema). */
export type ResponseOf<P extends keyof paths> = paths[P] extends {
  post: { responses: { 200: { content: { 'application/json': infer R } } } };
}
  ? R
  : unknown;

export type Account = Schemas['AccountResponse'];
export type ListedAccount = Schemas['FollowAccountResponse'];
export type Profile = Schemas['ProfileResponse'];
export type Video = Schemas['VideoResponse'];
export type Comment = Schemas['CommentResponse'];
export type FeedVideoItem = Schemas['FeedVideoItemResponse'];
export type TimeFeedPage = Schemas['TimePageResponse'];
export type LikesFeedPage = Schemas['LikesCountPageResponse'];
export type HotFeedPage = Schemas['PopularityPageResponse'];
export type LoginResult = Schemas['LoginResponse'];
export type DirectMessage = Schemas['DirectMessageResponse'];
export type MessagePage = Schemas['MessagePageResponse'];
export type Conversation = Schemas['ConversationResponse'];
export type ConversationPage = Schemas['ConversationPageResponse'];
/** `Notification` of SPEC §8.4 (the DOM already has a `Notification`). */
export type AppNotification = Schemas['NotificationResponse'];
export type NotificationPage = Schemas['NotificationPageResponse'];
export type ChunkInitResult = Schemas['ChunkInitResponse'];
export type ChunkCompleteResult = Schemas['ChunkCompleteResponse'];
export type ChunkIncomplete = Schemas['ChunkIncompleteResponse'];
/** `{message}`: what routes with nothing else to say answer. */
export type Message = Schemas['MessageResponse'];

/** SPEC §1's error body, as every route declares its error answers. */
export type ApiErrorBody = Schemas['ErrorResponse'];
