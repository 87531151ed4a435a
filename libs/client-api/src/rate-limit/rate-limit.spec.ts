import { MatrixError } from '@hs/http';
import { RateLimiter, RateLimitConfig } from './rate-limiter';
import { TokenBuckets } from './token-bucket';

describe('TokenBuckets', () => {
  it('allows a burst, then one request per 1/perSecond, per key', () => {
    let now = 1_000_000;
    const buckets = new TokenBuckets({ perSecond: 2, burstCount: 3 }, () => now);
    for (let i = 0; i < 3; i++) {
      expect(buckets.waitMs('a')).toBe(0);
      buckets.take('a');
    }
    expect(buckets.waitMs('a')).toBe(500);
    expect(buckets.waitMs('b')).toBe(0);
    now += 250;
    expect(buckets.waitMs('a')).toBe(250);
    now += 250;
    expect(buckets.waitMs('a')).toBe(0);
    buckets.take('a');
    expect(buckets.waitMs('a')).toBe(500);
  });

  it('never fills above the burst size however long a key is idle', () => {
    let now = 0;
    const buckets = new TokenBuckets({ perSecond: 10, burstCount: 2 }, () => now);
    buckets.take('k');
    now += 3_600_000;
    buckets.take('k');
    buckets.take('k');
    expect(buckets.waitMs('k')).toBe(100);
  });

  it('treats a burst count below one as one and refuses a non-positive rate', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burstCount: 0 }, () => 0);
    expect(buckets.waitMs('k')).toBe(0);
    buckets.take('k');
    expect(buckets.waitMs('k')).toBe(1000);
    expect(() => new TokenBuckets({ perSecond: 0, burstCount: 1 })).toThrow(RangeError);
  });

  it('sweeps idle buckets once there are many keys', () => {
    let now = 0;
    const buckets = new TokenBuckets({ perSecond: 1000, burstCount: 1 }, () => now);
    for (let i = 0; i < 10_000; i++) buckets.take(`k${i}`);
    expect(buckets.size).toBe(10_000);
    now += 10_000;
    buckets.take('fresh');
    expect(buckets.size).toBe(1);
  });
});

function config(enabled: boolean): RateLimitConfig {
  return {
    enabled,
    login: { per_second: 1, burst_count: 2 },
    registration: { per_second: 0.1, burst_count: 1 },
    message: { per_second: 5, burst_count: 1 },
  };
}

function limitOf(action: () => void): MatrixError | null {
  try {
    action();
    return null;
  } catch (error) {
    if (error instanceof MatrixError) return error;
    throw error;
  }
}

describe('RateLimiter', () => {
  it('answers 429 M_LIMIT_EXCEEDED with retry_after_ms and Retry-After once a bucket is empty', () => {
    const now = 0;
    const limiter = new RateLimiter(config(true), () => now);
    limiter.consume('registration', [{ ip: '10.0.0.1' }]);
    const error = limitOf(() => limiter.consume('registration', [{ ip: '10.0.0.1' }]));
    expect(error?.status).toBe(429);
    expect(error?.toJSON()).toEqual({ errcode: 'M_LIMIT_EXCEEDED', error: 'Too many requests', retry_after_ms: 10000 });
    expect(error?.headers).toEqual({ 'Retry-After': '10' });
    expect(limitOf(() => limiter.consume('registration', [{ ip: '10.0.0.2' }]))).toBeNull();
    // Each action has its own buckets.
    expect(limitOf(() => limiter.consume('login', [{ ip: '10.0.0.1' }]))).toBeNull();
  });

  it('takes from every key or from none', () => {
    let now = 0;
    const limiter = new RateLimiter(config(true), () => now);
    limiter.consume('message', [{ user: '@a:x' }]);
    // The user's bucket is empty: the address's bucket is left untouched.
    expect(limitOf(() => limiter.consume('message', [{ ip: '1.2.3.4' }, { user: '@a:x' }]))?.status).toBe(429);
    expect(limitOf(() => limiter.consume('message', [{ ip: '1.2.3.4' }]))).toBeNull();
    now += 200;
    expect(limitOf(() => limiter.consume('message', [{ user: '@a:x' }]))).toBeNull();
  });

  it('keeps user, address and account keys apart', () => {
    const limiter = new RateLimiter(config(true), () => 0);
    limiter.consume('message', [{ user: 'same' }]);
    expect(limitOf(() => limiter.consume('message', [{ ip: 'same' }]))).toBeNull();
    expect(limitOf(() => limiter.consume('message', [{ account: 'same' }]))).toBeNull();
  });

  it('limits nothing when disabled', () => {
    const limiter = new RateLimiter(config(false), () => 0);
    expect(limiter.enabled).toBe(false);
    for (let i = 0; i < 50; i++) limiter.consume('registration', [{ ip: '10.0.0.1' }]);
  });
});
