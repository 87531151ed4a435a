import { DEFAULT_BACKOFF, backoffDelay } from './backoff';

describe('backoffDelay', () => {
  const settings = { minMs: 1_000, maxMs: 3_600_000 };

  it('doubles from the minimum after each failure up to the maximum, without jitter when random is 0', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, settings, () => 0))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(backoffDelay(12, settings, () => 0)).toBe(2_048_000);
    expect(backoffDelay(13, settings, () => 0)).toBe(3_600_000);
    expect(backoffDelay(10_000, settings, () => 0)).toBe(3_600_000);
  });

  it('takes up to half the delay off at random', () => {
    expect(backoffDelay(3, settings, () => 0.5)).toBe(3_000);
    expect(backoffDelay(3, settings, () => 0.999999)).toBe(2_000);
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(20, settings);
      expect(delay).toBeGreaterThan(1_800_000);
      expect(delay).toBeLessThanOrEqual(3_600_000);
    }
  });

  it('treats a count below one as the first failure, and defaults to 1 s doubling to 1 h', () => {
    expect(backoffDelay(0, settings, () => 0)).toBe(1_000);
    expect(DEFAULT_BACKOFF).toEqual({ minMs: 1_000, maxMs: 3_600_000 });
  });
});
