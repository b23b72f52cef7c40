// Client-side filter validation: a filter that would be read as "everything"
// (an empty or undefined value, a misspelt key) throws before any request is
// sent. `afterAll(() => sink.delete({ to: process.env.EMAIL }))` with EMAIL
// unset must not wipe the sink.

/** Keys that filter messages: each, when present, must be a non-empty string. */
export const FILTER_KEYS = ["to", "from", "subject", "q", "since", "search"] as const;

/**
 * Throws a TypeError naming the call and the key when `filter` holds a key
 * outside `allowed`, or a filter key whose value is undefined, not a string,
 * or empty. Non-filter keys in `allowed` (timeoutMs, signal, …) are not checked.
 */
export function checkFilter(call: string, filter: object, allowed: readonly string[]): void {
  for (const [key, value] of Object.entries(filter) as [string, unknown][]) {
    if (!allowed.includes(key)) {
      throw new TypeError(`${call}: unknown filter key "${key}"; it takes ${allowed.join(", ")}`);
    }
    if (!(FILTER_KEYS as readonly string[]).includes(key)) continue;
    if (value === undefined) {
      throw new TypeError(
        `${call}: ${key} is undefined; leave the key out, or give it a value (nothing was sent)`,
      );
    }
    if (typeof value !== "string" || value.trim() === "") {
      throw new TypeError(
        `${call}: ${key} must be a non-empty string, got ${JSON.stringify(value)} (nothing was sent)`,
      );
    }
  }
}
