import nacl from 'tweetnacl';
import { canonicalJsonBytes } from '../json/canonical-json';
import { decodeBase64, encodeBase64 } from '../json/base64';
import { generateSigningKey } from '../crypto/ed25519';
import { signJson } from '../crypto/sign-json';
import {
  buildServerKeys,
  effectiveValidUntil,
  InvalidServerKeysError,
  isKeyUsable,
  MAX_KEY_VALIDITY_MS,
  mergeVerifyKey,
  parseServerKeys,
  verifyKeyRecords,
  withOnlySignaturesOf,
  type VerifyKeyRecord,
} from './server-keys';

const DAY = 24 * 60 * 60 * 1000;
const key = generateSigningKey('cur');
const oldKey = generateSigningKey('old');

function ours(validUntilTs = 5_000_000) {
  return buildServerKeys({
    serverName: 'a.org',
    signingKeys: [key],
    oldKeys: new Map([[oldKey.keyId, { key: oldKey.publicKeyBase64, expiredTs: 1000 }]]),
    validUntilTs,
  });
}

function refusal(json: unknown, name = 'a.org'): string {
  try {
    parseServerKeys(json, name);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidServerKeysError);
    return (error as InvalidServerKeysError).reason;
  }
  throw new Error('expected a refusal');
}

describe('server keys', () => {
  it('builds our response, signed as tweetnacl would sign it, and reads it back', () => {
    const json = ours();
    expect(json).toMatchObject({
      server_name: 'a.org',
      verify_keys: { 'ed25519:cur': { key: key.publicKeyBase64 } },
      old_verify_keys: { 'ed25519:old': { key: oldKey.publicKeyBase64, expired_ts: 1000 } },
      valid_until_ts: 5_000_000,
    });
    const { signatures, ...unsigned } = json;
    const expected = nacl.sign.detached(canonicalJsonBytes(unsigned), nacl.sign.keyPair.fromSeed(key.seed).secretKey);
    expect(signatures['a.org']['ed25519:cur']).toBe(encodeBase64(expected));
    expect(nacl.sign.detached.verify(canonicalJsonBytes(unsigned), decodeBase64(signatures['a.org']['ed25519:cur']), key.publicKey)).toBe(true);
    const parsed = parseServerKeys(json, 'a.org');
    expect([...parsed.verifyKeys]).toEqual([['ed25519:cur', key.publicKeyBase64]]);
    expect([...parsed.oldVerifyKeys]).toEqual([['ed25519:old', { key: oldKey.publicKeyBase64, expiredTs: 1000 }]]);
    expect(parsed.validUntilTs).toBe(5_000_000);
  });

  it('accepts a response signed by a tweetnacl key (independent signer)', () => {
    const pair = nacl.sign.keyPair();
    const body = { server_name: 'b.org', verify_keys: { 'ed25519:n': { key: encodeBase64(pair.publicKey) } }, valid_until_ts: 10 };
    const sig = encodeBase64(nacl.sign.detached(canonicalJsonBytes(body), pair.secretKey));
    expect(parseServerKeys({ ...body, signatures: { 'b.org': { 'ed25519:n': sig } } }, 'b.org').verifyKeys.get('ed25519:n')).toBe(encodeBase64(pair.publicKey));
  });

  it.each<[string, (json: Record<string, unknown>) => unknown, RegExp]>([
    ['not an object', () => [1], /not a JSON object/],
    ['another server name', (json) => json, /server_name/],
    ['no valid_until_ts', (json) => ({ ...json, valid_until_ts: undefined }), /valid_until_ts/],
    ['a float valid_until_ts', (json) => ({ ...json, valid_until_ts: 1.5 }), /valid_until_ts/],
    ['verify_keys not an object', (json) => ({ ...json, verify_keys: [] }), /verify_keys is not an object/],
    ['a bad key id', (json) => ({ ...json, verify_keys: { 'ed25519:a-b': { key: key.publicKeyBase64 } } }), /bad key id/],
    ['a short key', (json) => ({ ...json, verify_keys: { 'ed25519:cur': { key: 'AAAA' } } }), /32-byte/],
    ['an old key without expiry', (json) => ({ ...json, old_verify_keys: { 'ed25519:old': { key: oldKey.publicKeyBase64 } } }), /expired_ts/],
    ['too many keys', (json) => ({ ...json, old_verify_keys: Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`ed25519:k${i}`, { key: key.publicKeyBase64, expired_ts: 1 }])) }), /more than/],
    ['no signature', (json) => ({ ...json, signatures: {} }), /not signed/],
    ['only a stranger key signature', (json) => signJson({ ...json, signatures: {} }, 'a.org', generateSigningKey('cur')), /does not verify/],
    ['a tampered body', (json) => ({ ...json, valid_until_ts: 5_000_001 }), /does not verify/],
    ['a key it does not list', (json) => signJson({ ...json, signatures: {} }, 'a.org', generateSigningKey('other')), /not signed/],
  ])('refuses %s', (name, change, expected) => {
    const json = change(ours());
    expect(refusal(json, name === 'another server name' ? 'b.org' : 'a.org')).toMatch(expected);
  });

  it('ignores keys of other algorithms', () => {
    const json = signJson({ server_name: 'a.org', verify_keys: { 'ed25519:cur': { key: key.publicKeyBase64 }, 'curve:x': { key: 'zz' } }, valid_until_ts: 1 }, 'a.org', key);
    expect([...parseServerKeys(json, 'a.org').verifyKeys.keys()]).toEqual(['ed25519:cur']);
  });

  it('keeps only the origin signatures of a relayed response', () => {
    const relayed = signJson(ours(), 'notary.org', generateSigningKey('n'));
    const kept = withOnlySignaturesOf(relayed, 'a.org') as { signatures: Record<string, unknown> };
    expect(Object.keys(kept.signatures)).toEqual(['a.org']);
    expect(parseServerKeys(kept, 'a.org').verifyKeys.size).toBe(1);
  });
});

describe('key validity', () => {
  const record = (over: Partial<VerifyKeyRecord> = {}): VerifyKeyRecord => ({ serverName: 'a.org', keyId: 'ed25519:k', key: 'K', validUntilTs: 1000, expiredTs: null, ...over });

  it('never trusts a key for more than 7 days after it was received', () => {
    expect(effectiveValidUntil(10 * DAY, 0)).toBe(MAX_KEY_VALIDITY_MS);
    expect(effectiveValidUntil(DAY, 0)).toBe(DAY);
    const records = verifyKeyRecords(parseServerKeys(ours(100 * DAY), 'a.org'), 50);
    expect(records).toEqual([
      { serverName: 'a.org', keyId: 'ed25519:cur', key: key.publicKeyBase64, validUntilTs: 50 + MAX_KEY_VALIDITY_MS, expiredTs: null },
      { serverName: 'a.org', keyId: 'ed25519:old', key: oldKey.publicKeyBase64, validUntilTs: 0, expiredTs: 1000 },
    ]);
  });

  it('uses a current key for requests and events up to valid_until_ts and not after', () => {
    for (const purpose of ['request', 'event'] as const) {
      expect(isKeyUsable(record(), { at: 1000, purpose })).toBe(true);
      expect(isKeyUsable(record(), { at: 1001, purpose })).toBe(false);
    }
    expect(isKeyUsable(record(), { at: 5000, purpose: 'event', enforceValidUntil: false })).toBe(true);
  });

  it('uses an old key for events signed before its expiry only, and never for requests', () => {
    const old = record({ validUntilTs: 0, expiredTs: 500 });
    expect(isKeyUsable(old, { at: 499, purpose: 'event' })).toBe(true);
    expect(isKeyUsable(old, { at: 500, purpose: 'event' })).toBe(false);
    expect(isKeyUsable(old, { at: 10, purpose: 'request' })).toBe(false);
    expect(isKeyUsable(old, { at: 600, purpose: 'event', enforceValidUntil: false })).toBe(false);
  });

  it('merges what later responses say', () => {
    const a = record({ validUntilTs: 1000 });
    expect(mergeVerifyKey(undefined, a)).toBe(a);
    expect(mergeVerifyKey(a, record({ validUntilTs: 2000 })).validUntilTs).toBe(2000);
    expect(mergeVerifyKey(record({ validUntilTs: 3000 }), a).validUntilTs).toBe(3000);
    expect(mergeVerifyKey(a, record({ validUntilTs: 0, expiredTs: 700 }))).toMatchObject({ validUntilTs: 1000, expiredTs: 700 });
    expect(mergeVerifyKey(record({ expiredTs: 700 }), record({ expiredTs: 900 })).expiredTs).toBe(700);
    const replaced = record({ key: 'other', validUntilTs: 10 });
    expect(mergeVerifyKey(a, replaced)).toBe(replaced);
  });
});
