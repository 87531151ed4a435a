/**
 * The client-server API's rate limits: token buckets per action (login, registration,
 * sending messages), keyed per user and per address. Off when `enabled` is false.
 */
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { HomeserverConfig } from '@hs/config';
import { MatrixError } from '@hs/http';
import { TokenBuckets } from './token-bucket';

/** The rate-limited actions, named like the `rate_limits.*` keys of the configuration. */
export type RateLimitedAction = 'login' | 'registration' | 'message';

export const RATE_LIMITED_ACTIONS: readonly RateLimitedAction[] = ['login', 'registration', 'message'];

/** The `rate_limits` section of the configuration. */
export type RateLimitConfig = HomeserverConfig['rate_limits'];

/** Injection token of the `RateLimitConfig`. */
export const RATE_LIMIT_CONFIG = 'hs:client-api:rate-limit-config';
/** Injection token of the clock (ms since the epoch) the buckets refill by; Date.now when absent. */
export const RATE_LIMIT_CLOCK = 'hs:client-api:rate-limit-clock';

/** What a bucket is keyed by: the requesting user, the requesting address, or the account a login targets. */
export type RateLimitKey = { user: string } | { ip: string } | { account: string };

function keyString(key: RateLimitKey): string {
  if ('user' in key) return `user:${key.user}`;
  if ('ip' in key) return `ip:${key.ip}`;
  return `account:${key.account}`;
}

@Injectable()
export class RateLimiter {
  private readonly buckets: ReadonlyMap<RateLimitedAction, TokenBuckets>;

  constructor(
    @Inject(RATE_LIMIT_CONFIG) private readonly config: RateLimitConfig,
    @Optional() @Inject(RATE_LIMIT_CLOCK) clock?: () => number,
  ) {
    const map = new Map<RateLimitedAction, TokenBuckets>();
    for (const action of RATE_LIMITED_ACTIONS) {
      const rule = config[action];
      map.set(action, new TokenBuckets({ perSecond: rule.per_second, burstCount: rule.burst_count }, clock ?? Date.now));
    }
    this.buckets = map;
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  /**
   * Takes one request of `action` from every key's bucket, or none of them and throws
   * 429 M_LIMIT_EXCEEDED with `retry_after_ms` when any bucket is empty.
   */
  consume(action: RateLimitedAction, keys: readonly RateLimitKey[]): void {
    if (!this.config.enabled || keys.length === 0) return;
    const buckets = this.buckets.get(action);
    if (!buckets) return;
    const names = keys.map(keyString);
    const wait = Math.max(...names.map((name) => buckets.waitMs(name)));
    if (wait > 0) throw MatrixError.limitExceeded(wait);
    for (const name of names) buckets.take(name);
  }
}
