/**
 * Retry delays of an unreachable destination: exponential from `minMs`, doubled after each
 * consecutive failure up to `maxMs`, with jitter so that servers which went down together are
 * not all retried at the same moment.
 */
export interface BackoffSettings {
  /** Delay after the first failure (before jitter), in milliseconds. */
  minMs: number;
  /** Longest delay, in milliseconds. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { minMs: 1_000, maxMs: 60 * 60 * 1_000 };

/**
 * The delay before the next attempt after `failures` consecutive failures (at least 1):
 * `min(maxMs, minMs * 2^(failures-1))`, of which a random part up to a half is taken off
 * (`random` returns a number in [0, 1)).
 */
export function backoffDelay(failures: number, settings: BackoffSettings, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 52);
  const full = Math.min(settings.maxMs, settings.minMs * 2 ** exponent);
  return Math.round(full - (full / 2) * random());
}
