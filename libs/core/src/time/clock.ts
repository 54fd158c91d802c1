/** Wall clock in one place so tests can reason about time; all persisted times are unix ms. */
export const nowMs = (): number => Date.now();
export const toIso = (ms: number): string => new Date(ms).toISOString();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
