/** SPEC §8.3: a `#` (or full-width `＃`) not glued to a word, then 1–50 letters, marks, digits or `_`. */
const WORD = '[\\p{L}\\p{M}\\p{Nd}_]';
const TAG = new RegExp(`(?<!${WORD})[#＃](${WORD}{1,50})(?!${WORD})`, 'gu');

export type TextPart = { text: string; tag?: undefined } | { text: string; tag: string };

/** The stored form of a tag, as the server keeps it: NFKC, lower case. */
export function canonicalTag(name: string): string {
  return name.normalize('NFKC').toLowerCase().normalize('NFKC');
}

/**
 * Splits text into plain runs and `#tag` tokens. With `known` (the `tags` the server parsed for
 * the video), only those tokens are tags; without it, every token that looks like one is.
 */
export function splitTags(text: string, known?: readonly string[]): TextPart[] {
  const parts: TextPart[] = [];
  let at = 0;
  for (const m of text.matchAll(TAG)) {
    const tag = canonicalTag(m[1]);
    if (known && !known.includes(tag)) continue;
    const start = m.index ?? 0;
    if (start > at) parts.push({ text: text.slice(at, start) });
    parts.push({ text: m[0], tag });
    at = start + m[0].length;
  }
  if (at < text.length) parts.push({ text: text.slice(at) });
  return parts;
}

export function tagPath(tag: string): string {
  return `/tag/${encodeURIComponent(tag)}`;
}
