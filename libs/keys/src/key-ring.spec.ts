import { buildServerKeys, generateSigningKey, MAX_KEY_VALIDITY_MS, parseServerKeys, type ServerKeys, type SigningKey } from '@hs/protocol';
import pino from 'pino';
import { KeyFetchError, type KeyFetcher, type TrustedNotary } from './key-fetcher';
import { KeyRing } from './key-ring';
import { MemoryKeyStore } from './key-store';
import { OurKeys } from './our-keys';

const HOUR = 60 * 60 * 1000;

/** A fetcher that answers from a table of servers' keys, counting and optionally holding calls. */
class FakeFetcher {
  readonly direct: string[] = [];
  readonly viaNotary: string[] = [];
  readonly responses = new Map<string, () => ServerKeys>();
  readonly notaryAnswers = new Map<string, () => ServerKeys>();
  active = 0;
  maxActive = 0;
  gate: Promise<void> = Promise.resolve();

  async fetchDirect(serverName: string): Promise<ServerKeys> {
    this.direct.push(serverName);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await this.gate;
      const response = this.responses.get(serverName);
      if (!response) throw new KeyFetchError(serverName, serverName, 'ECONNREFUSED');
      return response();
    } finally {
      this.active--;
    }
  }

  async fetchFromNotary(notary: TrustedNotary, serverNames: readonly string[]): Promise<ServerKeys[]> {
    this.viaNotary.push(`${notary.serverName}:${serverNames.join(',')}`);
    const answer = this.notaryAnswers.get(serverNames[0]);
    if (!answer) throw new KeyFetchError(serverNames[0], notary.serverName, 'HTTP 404');
    return [answer()];
  }
}

function keysOf(serverName: string, key: SigningKey, validUntilTs: number, old?: { key: SigningKey; expiredTs: number }): ServerKeys {
  const oldKeys = old ? new Map([[old.key.keyId, { key: old.key.publicKeyBase64, expiredTs: old.expiredTs }]]) : undefined;
  return parseServerKeys(buildServerKeys({ serverName, signingKeys: [key], oldKeys, validUntilTs }), serverName);
}

function setUp(options: { notaries?: TrustedNotary[]; maxConcurrentFetches?: number } = {}) {
  let now = 1_000_000;
  const clock = () => now;
  const ourKey = generateSigningKey('ours');
  const ourKeys = new OurKeys({ serverName: 'us.org', signingKey: ourKey, oldKeys: new Map(), validityMs: HOUR, clock });
  const fetcher = new FakeFetcher();
  const store = new MemoryKeyStore();
  const ring = new KeyRing({
    ourKeys,
    store,
    fetcher: fetcher as unknown as KeyFetcher,
    notaries: options.notaries ?? [],
    clock,
    logger: pino({ level: 'silent' }),
    maxConcurrentFetches: options.maxConcurrentFetches,
    refetchIntervalMs: 1000,
  });
  return { ring, fetcher, store, ourKey, advance: (ms: number) => (now += ms), now: () => now };
}

describe('key ring', () => {
  const remote = generateSigningKey('r1');

  it('fetches an unknown server once, then answers from memory', async () => {
    const { ring, fetcher, now } = setUp();
    fetcher.responses.set('b.org', () => keysOf('b.org', remote, now() + HOUR));
    const key = await ring.verifyKey('b.org', 'ed25519:r1', { at: now(), purpose: 'request' });
    expect(key).toMatchObject({ serverName: 'b.org', keyId: 'ed25519:r1', key: remote.publicKeyBase64, validUntilTs: now() + HOUR });
    expect(await ring.verifyKey('b.org', 'ed25519:r1', { at: now(), purpose: 'request' })).toEqual(key);
    expect(fetcher.direct).toEqual(['b.org']);
  });

  it('logs why keys were refused or could not be had', async () => {
    const lines: Record<string, unknown>[] = [];
    const fetcher = new FakeFetcher();
    const ring = new KeyRing({
      ourKeys: new OurKeys({ serverName: 'us.org', signingKey: generateSigningKey('o'), oldKeys: new Map(), validityMs: HOUR, clock: () => 1 }),
      store: new MemoryKeyStore(),
      fetcher: fetcher as unknown as KeyFetcher,
      notaries: [{ serverName: 'notary.org', verifyKeys: {} }],
      clock: () => 1,
      logger: pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) }),
    });
    expect(await ring.verifyKey('b.org', 'ed25519:r1', { at: 1, purpose: 'request' })).toBeNull();
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'server keys refused or unavailable', server: 'b.org', via: 'notary.org', reason: 'HTTP 404' }),
      expect.objectContaining({ msg: 'server keys refused or unavailable', server: 'b.org', via: 'b.org', reason: 'ECONNREFUSED' }),
    ]);
  });

  it('answers for this server from its own keys, without a fetch', async () => {
    const { ring, fetcher, ourKey, now } = setUp();
    expect(await ring.verifyKey('us.org', ourKey.keyId, { at: now(), purpose: 'request' })).toMatchObject({ key: ourKey.publicKeyBase64 });
    expect(await ring.verifyKey('us.org', 'ed25519:other', { at: now(), purpose: 'request' })).toBeNull();
    expect(fetcher.direct).toEqual([]);
  });

  it('keeps keys in the store: a new ring (a restart) needs no fetch', async () => {
    const first = setUp();
    first.fetcher.responses.set('b.org', () => keysOf('b.org', remote, first.now() + HOUR));
    await first.ring.verifyKey('b.org', 'ed25519:r1', { at: first.now(), purpose: 'request' });
    const fetcher = new FakeFetcher();
    const ring = new KeyRing({
      ourKeys: new OurKeys({ serverName: 'us.org', signingKey: first.ourKey, oldKeys: new Map(), validityMs: HOUR, clock: first.now }),
      store: first.store,
      fetcher: fetcher as unknown as KeyFetcher,
      notaries: [],
      clock: first.now,
      logger: pino({ level: 'silent' }),
    });
    expect(await ring.verifyKey('b.org', 'ed25519:r1', { at: first.now(), purpose: 'request' })).not.toBeNull();
    expect(fetcher.direct).toEqual([]);
  });

  it('de-duplicates concurrent fetches of one server and bounds fetches across servers', async () => {
    const { ring, fetcher, now } = setUp({ maxConcurrentFetches: 2 });
    let open!: () => void;
    fetcher.gate = new Promise((resolve) => (open = resolve));
    for (const name of ['b.org', 'c.org', 'd.org', 'e.org']) fetcher.responses.set(name, () => keysOf(name, remote, now() + HOUR));
    const lookups = [
      ...Array.from({ length: 20 }, () => ring.verifyKey('b.org', 'ed25519:r1', { at: now(), purpose: 'request' })),
      ...['c.org', 'd.org', 'e.org'].map((name) => ring.verifyKey(name, 'ed25519:r1', { at: now(), purpose: 'request' })),
    ];
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fetcher.active).toBe(2);
    open();
    const keys = await Promise.all(lookups);
    expect(keys.every((key) => key !== null)).toBe(true);
    expect(fetcher.direct.sort()).toEqual(['b.org', 'c.org', 'd.org', 'e.org']);
    expect(fetcher.maxActive).toBe(2);
  });

  it('never uses a key past its validity: refetches, and refuses when the server has nothing newer', async () => {
    const { ring, fetcher, advance, now } = setUp();
    let validUntil = now() + HOUR;
    fetcher.responses.set('b.org', () => keysOf('b.org', remote, validUntil));
    expect(await ring.verifyKey('b.org', 'ed25519:r1', { at: now(), purpose: 'request' })).not.toBeNull();
    advance(HOUR + 1);
    expect(await ring.verifyKey('b.org', 'ed25519:r1', { at: now(), purpose: 'request' })).toBeNull();
    expect(fetcher.direct).toHaveLength(2);
    // Within the refetch interval nothing is asked again; after it, a renewed key is taken.
    validUntil = now() + HOUR;
    expect(await ring.verifyKey('b.org', 'ed25519:r1', { at: now(), purpose: 'request' })).toBeNull();
    expect(fetcher.direct).toHaveLength(2);
    advance(1000);
    expect(await ring.verifyKey('b.org', 'ed25519:r1', { at: now(), purpose: 'request' })).toMatchObject({ validUntilTs: validUntil });
    // An event signed while the first response was valid still verifies.
    expect(await ring.verifyKey('b.org', 'ed25519:r1', { at: 1_000_000 + HOUR, purpose: 'event' })).not.toBeNull();
  });

  it('caps a published validity at 7 days after receipt', async () => {
    const { ring, fetcher, now } = setUp();
    fetcher.responses.set('b.org', () => keysOf('b.org', remote, now() + 365 * 24 * HOUR));
    expect((await ring.verifyKey('b.org', 'ed25519:r1', { at: now(), purpose: 'request' }))?.validUntilTs).toBe(now() + MAX_KEY_VALIDITY_MS);
    expect(await ring.verifyKey('b.org', 'ed25519:r1', { at: now() + MAX_KEY_VALIDITY_MS + 1, purpose: 'event' })).toBeNull();
  });

  it('uses an old key for events signed before its expiry, never for requests', async () => {
    const { ring, fetcher, now } = setUp();
    const old = generateSigningKey('gone');
    fetcher.responses.set('b.org', () => keysOf('b.org', remote, now() + HOUR, { key: old, expiredTs: now() - 10 }));
    expect(await ring.verifyKey('b.org', 'ed25519:gone', { at: now() - 11, purpose: 'event' })).toMatchObject({ expiredTs: now() - 10 });
    expect(await ring.verifyKey('b.org', 'ed25519:gone', { at: now() - 5, purpose: 'event' })).toBeNull();
    expect(await ring.verifyKey('b.org', 'ed25519:gone', { at: now() - 11, purpose: 'request' })).toBeNull();
  });

  it('asks the trusted notaries first and the server itself when they have nothing', async () => {
    const notary: TrustedNotary = { serverName: 'notary.org', verifyKeys: {} };
    const { ring, fetcher, now, store } = setUp({ notaries: [notary] });
    fetcher.notaryAnswers.set('b.org', () => keysOf('b.org', remote, now() + HOUR));
    fetcher.responses.set('c.org', () => keysOf('c.org', remote, now() + HOUR));
    expect(await ring.verifyKey('b.org', 'ed25519:r1', { at: now(), purpose: 'request' })).not.toBeNull();
    expect(fetcher.direct).toEqual([]);
    expect((await store.responseOf('b.org'))?.fetchedFrom).toBe('notary.org');
    expect(await ring.verifyKey('c.org', 'ed25519:r1', { at: now(), purpose: 'request' })).not.toBeNull();
    expect(fetcher.viaNotary).toEqual(['notary.org:b.org', 'notary.org:c.org']);
    expect(fetcher.direct).toEqual(['c.org']);
  });

  it('answers notary queries from the store, refreshing a response that is not valid long enough, and keeps the last one when the server is gone', async () => {
    const { ring, fetcher, now, advance } = setUp();
    expect(await ring.responsesFor('b.org', now())).toEqual([]);
    advance(1000);
    fetcher.responses.set('b.org', () => keysOf('b.org', remote, now() + HOUR));
    const [first] = await ring.responsesFor('b.org', now());
    expect(first).toMatchObject({ server_name: 'b.org', valid_until_ts: now() + HOUR });
    expect(await ring.responsesFor('b.org', now() + HOUR)).toEqual([first]);
    expect(fetcher.direct).toHaveLength(2);
    advance(1000);
    fetcher.responses.delete('b.org');
    expect(await ring.responsesFor('b.org', now() + 2 * HOUR)).toEqual([first]);
    expect(fetcher.direct).toHaveLength(3);
    expect(await ring.responsesFor('us.org', now())).toEqual([expect.objectContaining({ server_name: 'us.org' })]);
  });
});
