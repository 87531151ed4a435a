import { buildServerKeys, generateSigningKey, parseServerKeys, signJson, MAX_KEY_VALIDITY_MS } from '@hs/protocol';
import { openTestDatabase, type TestDatabase } from '@hs/persistence';
import { MemoryKeyStore, PostgresKeyStore, type KeyStore } from './key-store';

const current = generateSigningKey('cur');
const old = generateSigningKey('old');
const notary = generateSigningKey('n');

function response(validUntilTs: number, withOld = false) {
  const oldKeys = withOld ? new Map([[old.keyId, { key: old.publicKeyBase64, expiredTs: 500 }]]) : undefined;
  // As relayed by a notary: its signature beside the server's.
  const json = signJson(buildServerKeys({ serverName: 'b.org', signingKeys: [current], oldKeys, validUntilTs }), 'notary.org', notary);
  return parseServerKeys(json, 'b.org');
}

describe.each([
  ['PostgreSQL', 'postgres'],
  ['memory', 'memory'],
])('key store (%s)', (_name, kind) => {
  let database: TestDatabase | undefined;
  let store: KeyStore;

  beforeAll(async () => {
    if (kind === 'postgres') {
      database = await openTestDatabase('hs_keys', 2);
      store = new PostgresKeyStore(database.db.pool);
    } else store = new MemoryKeyStore();
  }, 120_000);
  afterAll(async () => {
    await database?.close();
  });

  it('merges responses key by key and keeps the longest-valid response with only the server signatures', async () => {
    expect(await store.keysOf('b.org')).toEqual([]);
    expect(await store.responseOf('b.org')).toBeNull();
    await store.save(response(10_000), 1000, 'b.org');
    const merged = await store.save(response(5000, true), 2000, 'notary.org');
    expect(merged.sort((a, b) => a.keyId.localeCompare(b.keyId))).toEqual([
      { serverName: 'b.org', keyId: 'ed25519:cur', key: current.publicKeyBase64, validUntilTs: 10_000, expiredTs: null },
      { serverName: 'b.org', keyId: 'ed25519:old', key: old.publicKeyBase64, validUntilTs: 0, expiredTs: 500 },
    ]);
    expect((await store.keysOf('b.org')).length).toBe(2);
    const stored = await store.responseOf('b.org');
    expect(stored).toMatchObject({ validUntilTs: 10_000, fetchedTs: 1000, fetchedFrom: 'b.org' });
    expect(Object.keys(stored?.json.signatures as object)).toEqual(['b.org']);
    expect(parseServerKeys(stored?.json, 'b.org').validUntilTs).toBe(10_000);
  });

  it('caps the stored validity at 7 days after receipt', async () => {
    const [record] = await store.save(response(Number.MAX_SAFE_INTEGER), 3000, 'b.org');
    expect(record.validUntilTs).toBe(3000 + MAX_KEY_VALIDITY_MS);
    expect((await store.responseOf('b.org'))?.validUntilTs).toBe(Number.MAX_SAFE_INTEGER);
  });
});
