/** SPEC §1: 1–32 characters of letters of any script, digits, `_`, `.`, `-`. */
export const USERNAME_PATTERN = /^[\p{L}\p{M}\p{Nd}_.-]{1,32}$/u;

/** Display form: trimmed and NFC-normalised (so visually equal names compare equal). */
export function normalizeUsername(raw: string): string {
  return raw.trim().normalize('NFC');
}

/** The case-insensitive unique key stored in `accounts.username_key`. */
export function usernameKey(username: string): string {
  return normalizeUsername(username).toLowerCase();
}

export function isValidUsername(username: string): boolean {
  return USERNAME_PATTERN.test(username) && [...username].length <= 32;
}

/** SPEC §3.1: passwords are 6–72 bytes, taken exactly as sent. */
export function isValidPassword(password: string): boolean {
  const n = Buffer.byteLength(password, 'utf8');
  return n >= 6 && n <= 72;
}
