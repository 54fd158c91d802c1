import unhomoglyph from 'unhomoglyph';

/**
 * SPEC §1: 1–32 characters of letters of any script (with their combining marks), digits, `_`,
 * `.`, `-`, starting with a letter or a digit (so no name is made of marks or punctuation only).
 */
export const USERNAME_PATTERN = /^[\p{L}\p{Nd}][\p{L}\p{M}\p{Nd}_.-]{0,31}$/u;

/** Invisible characters: joiners, variation selectors, U+034F and the rest of Unicode's list. */
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;

/**
 * Display form: trimmed and NFKC-normalised, so compatibility forms (full-width `ａｌｉｃｅ`,
 * ligatures) become the characters they stand for.
 */
export function normalizeUsername(raw: string): string {
  return raw.trim().normalize('NFKC');
}

/** The case-insensitive lookup key stored in `accounts.username_key`. */
export function usernameKey(username: string): string {
  return normalizeUsername(username).toLowerCase();
}

/** The key accounts created before NFKC normalisation were stored under (NFC, lower case). */
export function legacyUsernameKey(username: string): string {
  return username.trim().normalize('NFC').toLowerCase();
}

/** Checks a name already passed through {@link normalizeUsername}. */
export function isValidUsername(username: string): boolean {
  return !INVISIBLE.test(username) && USERNAME_PATTERN.test(username);
}

/** UTS #39 `skeleton`: NFD, each character to its prototype (Unicode's confusables.txt), NFD. */
function skeleton(s: string): string {
  return unhomoglyph(s.normalize('NFD')).normalize('NFD');
}

/**
 * The name's confusables skeleton, stored unique in `accounts.username_skeleton`, so `аlice`
 * (Cyrillic а), `ａｌｉｃｅ`, `AIice` (capital I) and `alice` cannot all exist. UTS #39's skeleton
 * is case-sensitive and names here are not, so it is taken twice around a lower-casing: once on
 * the name as written (`I` → `l`, `0` → `O`), once lower-cased (`m` → `rn`), then lower-cased.
 * The mapping is Unicode's confusables.txt as shipped by the `unhomoglyph` package.
 */
export function usernameSkeleton(username: string): string {
  return skeleton(skeleton(normalizeUsername(username)).toLowerCase()).toLowerCase();
}

/** Longest skeleton a valid name can have (32 characters, at most 7 UTF-16 units each). */
export const USERNAME_SKELETON_MAX = 255;

/** SPEC §3.1: passwords are 6–72 bytes, taken exactly as sent. */
export function isValidPassword(password: string): boolean {
  const n = Buffer.byteLength(password, 'utf8');
  return n >= 6 && n <= 72;
}

/** bcrypt reads only the first 72 bytes: a longer password can never be the one registered. */
export const PASSWORD_MAX_BYTES = 72;
