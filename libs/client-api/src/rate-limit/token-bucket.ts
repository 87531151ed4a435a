/**
 * Token buckets keyed by a string (a user id, an address): each key may make `burstCount`
 * requests at once and then `perSecond` requests a second.
 */

export interface TokenBucketRule {
  /** Sustained requests per second. */
  perSecond: number;
  /** Requests allowed at once (the bucket's size). */
  burstCount: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Buckets past this count are swept of full (idle) ones. */
const SWEEP_THRESHOLD = 10_000;

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;

  constructor(
    private readonly rule: TokenBucketRule,
    private readonly clock: () => number = Date.now,
  ) {
    if (!(rule.perSecond > 0)) throw new RangeError('perSecond must be positive');
    this.capacity = Math.max(1, rule.burstCount);
  }

  private current(key: string, now: number): Bucket {
    const bucket = this.buckets.get(key);
    if (!bucket) return { tokens: this.capacity, updatedAt: now };
    const elapsed = Math.max(0, now - bucket.updatedAt) / 1000;
    return { tokens: Math.min(this.capacity, bucket.tokens + elapsed * this.rule.perSecond), updatedAt: now };
  }

  /** Milliseconds until `key` may make a request; 0 when it may now. Takes nothing. */
  waitMs(key: string): number {
    const bucket = this.current(key, this.clock());
    if (bucket.tokens >= 1) return 0;
    return Math.ceil(((1 - bucket.tokens) / this.rule.perSecond) * 1000);
  }

  /** Takes one token from `key`'s bucket (callers check `waitMs` first). */
  take(key: string): void {
    const now = this.clock();
    const bucket = this.current(key, now);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    this.buckets.set(key, bucket);
    if (this.buckets.size > SWEEP_THRESHOLD) this.sweep(now);
  }

  /** Number of keys with a bucket that is not full. */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (this.current(key, now).tokens >= this.capacity || bucket.updatedAt > now) this.buckets.delete(key);
    }
  }
}
