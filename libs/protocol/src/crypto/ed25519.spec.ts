import fc from 'fast-check';
import nacl from 'tweetnacl';
import { SPEC_SIGNING_KEY } from '../../test-fixtures';
import { decodeBase64, encodeBase64 } from '../json/base64';
import {
  generateSigningKey,
  InvalidSigningKeyError,
  parseKeyId,
  signBytes,
  signingKeyFromSeed,
  verifyBytes,
} from './ed25519';

describe('ed25519 keys', () => {
  it('derives the public key of the spec seed', () => {
    const key = signingKeyFromSeed(SPEC_SIGNING_KEY.seed_base64, SPEC_SIGNING_KEY.key_id);
    expect(key.keyId).toBe('ed25519:1');
    expect(key.version).toBe('1');
    expect(key.publicKeyBase64).toBe(SPEC_SIGNING_KEY.derived_public_key_base64);
    const naclPair = nacl.sign.keyPair.fromSeed(key.seed);
    expect(encodeBase64(naclPair.publicKey)).toBe(key.publicKeyBase64);
  });

  it('generates keys whose seed reproduces the same key', () => {
    const key = generateSigningKey('a_1');
    expect(key.keyId).toBe('ed25519:a_1');
    expect(key.seed).toHaveLength(32);
    const again = signingKeyFromSeed(key.seed, key.keyId);
    expect(again.publicKeyBase64).toBe(key.publicKeyBase64);
    expect(generateSigningKey('a_1').publicKeyBase64).not.toBe(key.publicKeyBase64);
  });

  it('refuses bad key ids and seeds with typed errors', () => {
    expect(() => generateSigningKey('bad-version')).toThrow(InvalidSigningKeyError);
    expect(() => signingKeyFromSeed(new Uint8Array(31), 'ed25519:1')).toThrow(InvalidSigningKeyError);
    expect(() => signingKeyFromSeed(new Uint8Array(32), 'curve25519:1')).toThrow(InvalidSigningKeyError);
    expect(() => signingKeyFromSeed('not*base64', 'ed25519:1')).toThrow(InvalidSigningKeyError);
    expect(() => parseKeyId('ed25519')).toThrow(InvalidSigningKeyError);
    expect(() => parseKeyId('ed25519:')).toThrow(InvalidSigningKeyError);
    expect(parseKeyId('ed25519:abc_1')).toEqual({ algorithm: 'ed25519', version: 'abc_1' });
  });

  it('signs exactly as tweetnacl does and verifies both ways (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), (seed, message) => {
        const key = signingKeyFromSeed(seed, 'ed25519:p');
        const ours = signBytes(key, message);
        const pair = nacl.sign.keyPair.fromSeed(seed);
        const theirs = nacl.sign.detached(message, pair.secretKey);
        expect(Buffer.from(ours).equals(Buffer.from(theirs))).toBe(true);
        expect(encodeBase64(pair.publicKey)).toBe(key.publicKeyBase64);
        expect(verifyBytes(key.publicKey, message, theirs)).toBe(true);
        expect(verifyBytes(key.publicKeyBase64, message, ours)).toBe(true);
        expect(nacl.sign.detached.verify(message, ours, pair.publicKey)).toBe(true);
      }),
      { numRuns: 50 },
    );
  });

  it('rejects tampered messages and signatures, and malformed keys, without throwing', () => {
    const key = generateSigningKey('1');
    const message = Buffer.from('hello');
    const sig = signBytes(key, message);
    expect(verifyBytes(key.publicKey, Buffer.from('hellp'), sig)).toBe(false);
    const bad = Uint8Array.from(sig);
    bad[10] ^= 1;
    expect(verifyBytes(key.publicKey, message, bad)).toBe(false);
    expect(verifyBytes(key.publicKey, message, sig.subarray(0, 63))).toBe(false);
    expect(verifyBytes(new Uint8Array(31), message, sig)).toBe(false);
    expect(verifyBytes('***', message, sig)).toBe(false);
    expect(verifyBytes(generateSigningKey('2').publicKey, message, sig)).toBe(false);
    expect(decodeBase64(key.publicKeyBase64)).toEqual(key.publicKey);
  });
});
