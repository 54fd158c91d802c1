/**
 * Every cache key of SPEC §5 in one place (without the configured prefix, which the store adds).
 * Keys used together in one command share a `{hash tag}` so the same commands run on Redis Cluster.
 */
const AUTHOR_TIME = { head: 'feed:{author=', zTail: '}:tz', metaTail: '}:tm' } as const;

export const CacheKeys = {
  token: (accountId: number): string => `account:${accountId}`,
  latestFeed: (limit: number, cursor: string): string => `feed:listLatest:limit=${limit}:before=${cursor}`,
  followingFeed: (limit: number, uid: number, cursor: string): string =>
    `feed:listByFollow:limit=${limit}:uid=${uid}:before=${cursor}`,
  videoDetail: (id: number): string => `video:detail:id=${id}`,
  /** Minute bucket `yyyyMMddHHmm` (UTC). The `{video}` tag keeps buckets and snapshots in one slot. */
  hotBucket: (minute: string): string => `hot:{video}:1m:${minute}`,
  hotSnapshot: (asOf: number): string => `hot:{video}:merge:1m:${asOf}`,
  /** Bumped whenever a minute bucket moves; `<snapshot>:built` holds the version a snapshot was built at. */
  hotVersion: 'hot:{video}:version',
  hotSnapshotBuilt: (asOf: number): string => `hot:{video}:merge:1m:${asOf}:built`,
  /**
   * The running window (sums of the buckets from its low minute on, encoded) and its state:
   * `<low minute, unix s>:<the buckets' version it has seen>`.
   */
  hotWindow: 'hot:{video}:window',
  hotWindowState: 'hot:{video}:window:state',
  lock: (key: string): string => `lock:${key}`,
  rateLimit: (name: string, subject: string): string => `rl:${name}:${subject}`,
  /** The ids of the videos an account likes (`is_liked` of pages), and the version guarding its loads. */
  likedSet: (accountId: number): string => `liked:{uid=${accountId}}:set`,
  likedSetVersion: (accountId: number): string => `liked:{uid=${accountId}}:ver`,
  /** Changes whenever a video's listed fields may have (every detail invalidation): likes-count pages. */
  videoListGeneration: (): string => 'feed:videos:gen',
  /**
   * A follower's timeline (issue 14): the ids of the followed authors' videos by create_time, and
   * its state (building or ready, completeness floor, version, the followed authors merged at read).
   */
  timeline: (accountId: number): string => `timeline:{uid=${accountId}}:z`,
  timelineMeta: (accountId: number): string => `timeline:{uid=${accountId}}:m`,
  /** The accounts the timeline's owner followed when it was built: a fan-out pushes only their videos. */
  timelineFollows: (accountId: number): string => `timeline:{uid=${accountId}}:f`,
  /** Pushes that came while the timeline was built, checked against its follow set when the build ends. */
  timelinePending: (accountId: number): string => `timeline:{uid=${accountId}}:p`,
  /**
   * Deep parts of a follower's timeline: runs of its following feed past the timeline, each exact
   * between its two cursors (fields named `<top>|<low>`, packed keys), and their directory by top.
   */
  timelineParts: (accountId: number): string => `timeline:{uid=${accountId}}:d`,
  timelinePartsDir: (accountId: number): string => `timeline:{uid=${accountId}}:dd`,
  /** Changes when every timeline must be rebuilt (an author turned big; a fan-out Redis refused). */
  timelineVersion: (): string => 'timeline:ver',
  /** Authors with more than FANOUT_MAX_FOLLOWERS followers: never pushed, merged at read. */
  timelineBigAuthors: (): string => 'timeline:big',
  /**
   * The latest index (issue 14): the ids of the newest videos by create_time, and its state (the
   * timelines' layout, one for everyone).
   */
  latestIndex: (): string => 'feed:{latest}:z',
  latestIndexMeta: (): string => 'feed:{latest}:m',
  /** An author's index (listByAuthorID): the ids of the author's newest videos, score = id. */
  authorIndex: (authorId: number): string => `feed:{author=${authorId}}:z`,
  authorIndexMeta: (authorId: number): string => `feed:{author=${authorId}}:m`,
  /**
   * An author's time index (deep following pages merged per author): the ids of the author's
   * newest videos by create_time; the author index's hash tag.
   */
  authorTimeIndex: (authorId: number): string => AUTHOR_TIME.head + authorId + AUTHOR_TIME.zTail,
  authorTimeIndexMeta: (authorId: number): string => AUTHOR_TIME.head + authorId + AUTHOR_TIME.metaTail,
  /** The two keys above as head + id + tail, for a script that names them from the ids it reads. */
  authorTimeIndexParts: (): Readonly<typeof AUTHOR_TIME> => AUTHOR_TIME,
  /** A tag's index (listByTag): its newest videos by create_time; the name URI-encoded (no brace, no space). */
  tagIndex: (tag: string): string => `feed:{tag=${encodeURIComponent(tag)}}:z`,
  tagIndexMeta: (tag: string): string => `feed:{tag=${encodeURIComponent(tag)}}:m`,
  /**
   * The likes-count index (issue 14, listLikesCount): the most-liked videos scored by likes_count,
   * its state, the videos marked dirty since, the ticket that last set each one, the ticket sequence.
   */
  likesIndex: (): string => 'feed:{likes}:z',
  likesIndexMeta: (): string => 'feed:{likes}:m',
  likesIndexDirty: (): string => 'feed:{likes}:d',
  likesIndexTickets: (): string => 'feed:{likes}:t',
  likesIndexSeq: (): string => 'feed:{likes}:seq',
  /** Read-your-writes with read replicas: the account wrote within the sticky window. */
  recentWrite: (accountId: number): string => `ryw:${accountId}`,
};

/** `yyyyMMddHHmm` of a unix-ms time, in UTC. */
export function minuteBucket(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
}
