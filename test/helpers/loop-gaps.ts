// How long the event loop was held: the longest gap between the ticks of a
// short interval. Tests of work that must yield (pruning, startup) assert on it.
export interface LoopGapWatch {
  /** The longest gap between ticks so far, ms. */
  maxGapMs(): number;
  stop(): void;
}

export function watchLoopGaps(tickMs: number): LoopGapWatch {
  let last = performance.now();
  let maxGapMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, tickMs);
  return { maxGapMs: () => maxGapMs, stop: () => clearInterval(ticker) };
}
