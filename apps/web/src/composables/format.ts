/** Compact counts: 1234 → 1.2K. */
export function formatCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0).replace(/\.0$/, '')}K`;
  return `${(n / 1_000_000).toFixed(1).replace(/\.0$/, '')}M`;
}

/** "3m ago" style from a Date. */
export function timeAgo(date: Date): string {
  const s = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  if (s < 86400 * 30) return `${Math.floor(s / 86400)}d ago`;
  return date.toLocaleDateString();
}

export function fromUnixSeconds(s: number): Date {
  return new Date(s * 1000);
}

/** URLs the api hands back are root-relative `/static/...` or absolute http(s); nothing else is rendered. */
export function safeMediaUrl(url: string): string {
  if (url.startsWith('/static/') || /^https?:\/\//i.test(url)) return url;
  return '';
}

/** 1536 → "1.5 KiB", 5242880 → "5.0 MiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}
