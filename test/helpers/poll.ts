// Waiting in tests: poll a condition with a deadline, never sleep a guessed time.
const POLL_MS = 10;

/** Resolves with the first truthy value of `fn`; rejects naming `what` after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 15_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
