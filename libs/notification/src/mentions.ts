import { isValidUsername, usernameKey } from '@app/account';

/** At most this many accounts are notified by one comment's `@username` mentions. */
export const MAX_MENTIONS_PER_COMMENT = 10;
/**
 * Most distinct `@names` of one comment looked up: names that match no account do not use up
 * the accounts' limit, so more names than accounts are read (a bound on the lookup, not a rule).
 */
export const MAX_MENTION_NAMES = 50;

const NAME_CHAR = '[\\p{L}\\p{M}\\p{Nd}_.\\-]';
/**
 * An `@` not glued to a preceding name character (`bob@example.com` mentions nobody), then a run
 * of name characters starting with a letter or digit (SPEC §1's username alphabet), at most 32
 * long and followed by no further name character: a longer run is nobody rather than a cut name.
 */
const MENTION = new RegExp(`(?<!${NAME_CHAR})@([\\p{L}\\p{Nd}]${NAME_CHAR}{0,31})(?!${NAME_CHAR})`, 'gu');

/**
 * The `@username` mentions of a comment (SPEC §8.4), each as the lookup keys
 * (`accounts.username_key`) it may stand for, in order of preference: the whole run, then the run
 * without trailing `.`/`-` (`thanks @bob.` names `bob.` if there is such an account, else `bob`).
 * The text is NFKC-normalised first, as usernames are. Distinct, in order of first appearance, at
 * most {@link MAX_MENTION_NAMES}; which of them are notified (at most
 * {@link MAX_MENTIONS_PER_COMMENT} accounts) is decided once they are looked up.
 */
export function parseMentions(content: string): string[][] {
  const out: string[][] = [];
  const seen = new Set<string>();
  for (const m of content.normalize('NFKC').matchAll(MENTION)) {
    const run = m[1];
    const keys = [run, run.replace(/[.-]+$/u, '')]
      .filter((name, i, all) => name !== '' && all.indexOf(name) === i && isValidUsername(name))
      .map(usernameKey);
    if (keys.length === 0 || seen.has(keys[0])) continue;
    keys.forEach((k) => seen.add(k));
    out.push(keys);
    if (out.length === MAX_MENTION_NAMES) break;
  }
  return out;
}
