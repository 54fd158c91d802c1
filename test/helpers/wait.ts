/**
 * Reads `read` every 100 ms until `ok` holds or `timeoutMs` has passed; the last value read (the
 * caller asserts on it, so a timeout fails with what was seen).
 */
export async function waitFor<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await read();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    v = await read();
  }
  return v;
}

/** {@link waitFor} for a condition this process can see at once (a spy's calls, a reply read so far). */
export async function until(ok: () => boolean, timeoutMs: number): Promise<boolean> {
  return waitFor(
    async () => ok(),
    (v) => v,
    timeoutMs,
  );
}

/** A promise and the function that resolves it (a gate a test opens, or a signal it waits for). */
export function signal(): { done: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const done = new Promise<void>((r) => (fire = r));
  return { done, fire };
}
