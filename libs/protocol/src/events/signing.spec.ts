import nacl from 'tweetnacl';
import { SPEC_SIGNING_KEY, specVectors } from '../../test-fixtures';
import { canonicalJson, canonicalJsonBytes } from '../json/canonical-json';
import { decodeBase64 } from '../json/base64';
import { generateSigningKey, signingKeyFromSeed } from '../crypto/ed25519';
import { contentHashBase64, verifyContentHash } from './hashes';
import { redactEvent } from './redaction';
import { signEvent, verifyEventSignature } from './signing';

const key = signingKeyFromSeed(SPEC_SIGNING_KEY.seed_base64, SPEC_SIGNING_KEY.key_id);

describe('signing events', () => {
  const cases = specVectors('event_signing');

  it('has the spec vectors', () => {
    expect(cases.length).toBe(2);
  });

  describe.each(cases.map((c) => [c.name, c]))('%s', (_name, c) => {
    const input = c.input as Record<string, unknown>;

    it.each(['1', '3', '5', '10'])('signs as the spec says in room version %s', (version) => {
      expect(contentHashBase64(input, version)).toBe(c.expected_content_hash_sha256);
      const signed = signEvent(input, version, 'domain', key);
      expect(canonicalJson(signed)).toBe(canonicalJson(c.expected));
      expect(verifyEventSignature(signed, version, 'domain', 'ed25519:1', key.publicKey)).toBe(true);
      expect(verifyContentHash(signed, version)).toBe(true);
      // tweetnacl checks the same signature over the redacted event
      const redacted = redactEvent(signed, version);
      delete redacted.signatures;
      const ok = nacl.sign.detached.verify(canonicalJsonBytes(redacted), decodeBase64(c.expected_signature as string), key.publicKey);
      expect(ok).toBe(true);
    });

    it('gives a different signature under the v11 rules (origin is redacted away)', () => {
      const signed = signEvent(input, '11', 'domain', key);
      expect(signed.signatures.domain['ed25519:1']).not.toBe(c.expected_signature);
      expect(verifyEventSignature(signed, '11', 'domain', 'ed25519:1', key.publicKey)).toBe(true);
    });
  });

  it('keeps the signature valid for the redacted copy but breaks the content hash', () => {
    const signed = signEvent(
      { room_id: '!r:a', sender: '@u:a', type: 'm.room.message', content: { body: 'hi' }, origin_server_ts: 1, depth: 1, prev_events: [], auth_events: [], hashes: {}, signatures: {} },
      '10',
      'a',
      key,
    );
    const redacted = redactEvent(signed, '10');
    expect(verifyEventSignature(redacted, '10', 'a', 'ed25519:1', key.publicKey)).toBe(true);
    expect(verifyContentHash(redacted, '10')).toBe(false);
    const tampered = { ...signed, type: 'm.room.other' };
    expect(verifyEventSignature(tampered, '10', 'a', 'ed25519:1', key.publicKey)).toBe(false);
    const tamperedBody = { ...signed, content: { body: 'bye' } };
    expect(verifyEventSignature(tamperedBody, '10', 'a', 'ed25519:1', key.publicKey)).toBe(true);
    expect(verifyContentHash(tamperedBody, '10')).toBe(false);
  });

  it('adds a second server signature beside the first', () => {
    const other = generateSigningKey('o');
    const once = signEvent({ type: 'x', content: {}, hashes: {}, signatures: {} }, '10', 'a', key);
    const twice = signEvent(once, '10', 'b', other);
    expect(Object.keys(twice.signatures).sort()).toEqual(['a', 'b']);
    expect(verifyEventSignature(twice, '10', 'a', 'ed25519:1', key.publicKey)).toBe(true);
    expect(verifyEventSignature(twice, '10', 'b', 'ed25519:o', other.publicKey)).toBe(true);
  });

  it('verifyContentHash is false for missing or garbled hashes', () => {
    expect(verifyContentHash({ type: 'x' }, '10')).toBe(false);
    expect(verifyContentHash({ type: 'x', hashes: { sha256: '*' } }, '10')).toBe(false);
    expect(verifyContentHash({ type: 'x', hashes: null }, '10')).toBe(false);
  });
});
