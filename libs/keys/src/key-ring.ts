/**
 * The key ring: which public key of a server (by key id) may verify a signature made at a
 * given time. Keys come from memory, else the key store (PostgreSQL), else a fetch: through the
 * trusted notaries first (`trusted_key_servers`), then from the server itself. A key is never
 * used past its validity (the lesser of `valid_until_ts` and 7 days after it was received) nor,
 * once the server listed it as old, for anything signed after its expiry.
 *
 * Fetches are de-duplicated (one at a time per server, later callers wait for it), bounded in
 * number across servers, and not repeated for a server within `refetchIntervalMs`, so a stream
 * of requests naming unknown keys cannot make us flood a server or ourselves.
 */
import { isKeyUsable, type KeyUse, type ServerKeys, type VerifyKeyRecord } from '@hs/protocol';
import type { Logger } from 'pino';
import { KeyFetcher, KeyFetchError, type TrustedNotary } from './key-fetcher';
import type { KeyStore } from './key-store';
import type { OurKeys } from './our-keys';

export interface KeyRingOptions {
  ourKeys: OurKeys;
  store: KeyStore;
  fetcher: KeyFetcher;
  notaries: readonly TrustedNotary[];
  clock: () => number;
  logger: Logger;
  /** Fetches running at once, across servers (default 8). */
  maxConcurrentFetches?: number;
  /** Least time between two fetches for one server, in milliseconds (default 30 s). */
  refetchIntervalMs?: number;
  /** Servers whose keys are kept in memory (default 10,000; the store keeps them all). */
  maxCachedServers?: number;
}

type Source = 'any' | 'direct';

/** A counting semaphore: at most `limit` holders at once. */
class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export class KeyRing {
  /** Known keys by server, then key id; least recently used servers first. */
  private readonly cache = new Map<string, Map<string, VerifyKeyRecord>>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly lastFetch = new Map<string, number>();
  private readonly fetches: Semaphore;
  private readonly refetchIntervalMs: number;
  private readonly maxCachedServers: number;

  constructor(private readonly options: KeyRingOptions) {
    this.fetches = new Semaphore(options.maxConcurrentFetches ?? 8);
    this.refetchIntervalMs = options.refetchIntervalMs ?? 30_000;
    this.maxCachedServers = options.maxCachedServers ?? 10_000;
  }

  get serverName(): string {
    return this.options.ourKeys.serverName;
  }

  /**
   * The key `keyId` of `serverName` if it may verify a signature made for `use`, fetching the
   * server's keys when they are unknown or no longer valid; null when no usable key is found.
   */
  async verifyKey(serverName: string, keyId: string, use: KeyUse): Promise<VerifyKeyRecord | null> {
    if (serverName === this.serverName) {
      const ours = this.options.ourKeys.verifyKey(keyId);
      return ours && isKeyUsable(ours, use) ? ours : null;
    }
    const known = (await this.known(serverName)).get(keyId);
    if (known && isKeyUsable(known, use)) return known;
    await this.fetch(serverName, 'any');
    const fetched = (await this.known(serverName)).get(keyId);
    return fetched && isKeyUsable(fetched, use) ? fetched : null;
  }

  /**
   * What a notary answers for `serverName`: the server's own signed response, valid until at
   * least `minimumValidUntilTs` when it can be had. A stored one that is not valid that long
   * is refreshed from the server directly; when that fails, the last response received is
   * given all the same (so old signatures can still be checked). Empty when there is none.
   */
  async responsesFor(serverName: string, minimumValidUntilTs: number): Promise<Record<string, unknown>[]> {
    if (serverName === this.serverName) return [this.options.ourKeys.serverKeys()];
    let stored = await this.options.store.responseOf(serverName);
    if (!stored || stored.validUntilTs < minimumValidUntilTs) {
      await this.fetch(serverName, 'direct');
      stored = await this.options.store.responseOf(serverName);
    }
    return stored ? [stored.json] : [];
  }

  /**
   * Fetches the keys of `serverName` now, from `source` (`any`: the notaries, then the
   * server; `direct`: the server only), unless a fetch for it ran within the refetch interval.
   * Failures are logged, never thrown.
   */
  async fetch(serverName: string, source: Source): Promise<void> {
    const running = this.inFlight.get(serverName);
    if (running) return running;
    const last = this.lastFetch.get(serverName);
    const now = this.options.clock();
    if (last !== undefined && now - last < this.refetchIntervalMs && now >= last) return;
    this.lastFetch.set(serverName, now);
    if (this.lastFetch.size > this.maxCachedServers) this.lastFetch.delete(this.lastFetch.keys().next().value as string);
    const fetching = this.fetches
      .run(() => this.fetchFrom(serverName, source))
      .finally(() => this.inFlight.delete(serverName));
    this.inFlight.set(serverName, fetching);
    return fetching;
  }

  private async fetchFrom(serverName: string, source: Source): Promise<void> {
    const log = this.options.logger;
    if (source === 'any') {
      for (const notary of this.options.notaries) {
        if (notary.serverName === this.serverName) continue;
        try {
          const answers = await this.options.fetcher.fetchFromNotary(notary, [serverName], (refused) => this.logRefused(refused));
          if (answers.length > 0) {
            for (const keys of answers) await this.remember(keys, notary.serverName);
            return;
          }
        } catch (error) {
          this.logRefused(error);
        }
      }
    }
    try {
      await this.remember(await this.options.fetcher.fetchDirect(serverName), serverName);
    } catch (error) {
      this.logRefused(error);
      if (!(error instanceof KeyFetchError)) log.error({ err: error, server: serverName }, 'storing server keys failed');
    }
  }

  private logRefused(error: unknown): void {
    if (error instanceof KeyFetchError) {
      this.options.logger.warn({ server: error.serverName, via: error.via, reason: error.reason }, 'server keys refused or unavailable');
    }
  }

  private async remember(keys: ServerKeys, fetchedFrom: string): Promise<void> {
    const records = await this.options.store.save(keys, this.options.clock(), fetchedFrom);
    this.cacheServer(keys.serverName, records);
    this.options.logger.info({ server: keys.serverName, via: fetchedFrom, keys: records.map((record) => record.keyId) }, 'server keys fetched');
  }

  private async known(serverName: string): Promise<Map<string, VerifyKeyRecord>> {
    const cached = this.cache.get(serverName);
    if (cached) {
      this.cache.delete(serverName);
      this.cache.set(serverName, cached);
      return cached;
    }
    return this.cacheServer(serverName, await this.options.store.keysOf(serverName));
  }

  private cacheServer(serverName: string, records: readonly VerifyKeyRecord[]): Map<string, VerifyKeyRecord> {
    const keys = new Map(records.map((record) => [record.keyId, record]));
    this.cache.delete(serverName);
    this.cache.set(serverName, keys);
    if (this.cache.size > this.maxCachedServers) this.cache.delete(this.cache.keys().next().value as string);
    return keys;
  }
}
