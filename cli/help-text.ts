// Option descriptions in help: a default longer than a few characters goes on
// its own line, so it is never split across the wrapped description.

/** Defaults longer than this many characters get a line of their own. */
const INLINE_DEFAULT_MAX_CHARS = 12;

export function describeWithDefault(text: string, defaultValue: string): string {
  return defaultValue.length > INLINE_DEFAULT_MAX_CHARS
    ? `${text}\n(default: ${defaultValue})`
    : `${text} (default: ${defaultValue})`;
}
