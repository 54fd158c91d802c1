/** SPEC §8.3: at most this many tags per video. */
export const MAX_TAGS_PER_VIDEO = 10;
/** Characters after the `#` (code points, counted on the NFKC-normalised text). */
export const MAX_TAG_CHARS = 50;

const WORD = '[\\p{L}\\p{M}\\p{Nd}_]';
/**
 * A `#` not glued to a preceding word character (`a#b` and `x.com/page#id`-style anchors are
 * not tags), then 1–50 letters of any script (with their combining marks), digits or `_`, and
 * no further such character: a longer run is not a tag at all rather than a truncated one.
 */
const TAG = new RegExp(`(?<!${WORD})#(${WORD}{1,${MAX_TAG_CHARS}})(?!${WORD})`, 'gu');
const WHOLE_TAG = new RegExp(`^${WORD}{1,${MAX_TAG_CHARS}}$`, 'u');

/** The stored form of a tag: NFKC, then lower case (NFKC again: lower-casing may denormalise). */
function canonical(name: string): string {
  return name.toLowerCase().normalize('NFKC');
}

/**
 * The tags of a video, from its title and description (SPEC §8.3): the text is NFKC-normalised
 * first (so `＃ＴＡＧ` is `#tag`), each token lower-cased, duplicates dropped, at most 10 in order of
 * first appearance (title before description).
 */
export function parseTags(title: string, description: string): string[] {
  const text = `${title}\n${description}`.normalize('NFKC');
  const out: string[] = [];
  for (const m of text.matchAll(TAG)) {
    const tag = canonical(m[1]);
    if (!out.includes(tag)) out.push(tag);
    if (out.length === MAX_TAGS_PER_VIDEO) break;
  }
  return out;
}

/**
 * A `tag_name` as a client sends it (with or without the `#`), in its stored form; `''` when
 * it is empty or only `#`s, `null` when what is left can never be a tag (then no video has it).
 */
export function normalizeTagName(raw: string): string | null {
  const text = raw.trim().normalize('NFKC');
  // Empty, or only `#` (one or more): nothing names a tag (SPEC §8.3, a 400).
  if (/^#*$/.test(text)) return '';
  const name = text.startsWith('#') ? text.slice(1) : text;
  return WHOLE_TAG.test(name) ? canonical(name) : null;
}

/**
 * `videos.tags`, the display copy of a video's tags: space-separated (a tag never contains white
 * space), `''` for none. `video_tags` is what `listByTag` reads.
 */
export function encodeTags(tags: string[]): string {
  return tags.join(' ');
}

export function decodeTags(column: string | null | undefined): string[] {
  return column ? column.split(' ') : [];
}
