/** A storage key: `/`-separated lowercase segments ending in `<name>.<ext>` (see FileStorage). */
export const STORAGE_KEY = /^[a-z0-9]+(?:\/[a-z0-9]+)*\/[a-z0-9]+\.[a-z0-9]+$/;
/** A folder of keys: the same segments ending in `/`. */
export const STORAGE_PREFIX = /^[a-z0-9]+(?:\/[a-z0-9]+)*\/$/;
