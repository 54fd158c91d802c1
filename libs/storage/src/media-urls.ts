import type { AppConfig } from '@app/core';

export const STATIC_PREFIX = '/static/';

/** What the URLs of stored files depend on. */
export type MediaUrlConfig = Pick<AppConfig, 'publicBaseUrl' | 'mediaBaseUrl'>;

/** A key as `upload.service` generates it: `<dir>/<yyyy>/<mm>/<32 hex>.<ext>`. */
const UPLOAD_KEY = /^[a-z]+\/\d{4}\/\d{2}\/[0-9a-f]{32}\.[a-z0-9]+$/;

/**
 * The URL clients get for a stored file: `<MEDIA_BASE_URL>/<key>` when a CDN is in front,
 * else `/static/<key>`, absolute under PUBLIC_BASE_URL when set; never from the Host header.
 */
export function mediaUrlOf(config: MediaUrlConfig, key: string): string {
  if (config.mediaBaseUrl) return `${config.mediaBaseUrl}/${key}`;
  return `${config.publicBaseUrl ?? ''}${STATIC_PREFIX}${key}`;
}

/** The storage key behind a URL in any of the forms {@link mediaUrlOf} gives (or has given), or null. */
export function keyOfMediaUrl(config: MediaUrlConfig, url: string): string | null {
  const bases = [STATIC_PREFIX];
  if (config.publicBaseUrl) bases.push(config.publicBaseUrl + STATIC_PREFIX);
  if (config.mediaBaseUrl) bases.push(`${config.mediaBaseUrl}/`);
  for (const base of bases) {
    if (!url.startsWith(base)) continue;
    const key = url.slice(base.length);
    if (UPLOAD_KEY.test(key)) return key;
  }
  return null;
}
