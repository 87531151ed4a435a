import nacl from 'tweetnacl';
import { SPEC_SIGNING_KEY, specVectors } from '../../test-fixtures';
import { canonicalJson, canonicalJsonBytes } from '../json/canonical-json';
import { decodeBase64 } from '../json/base64';
import { generateSigningKey, signingKeyFromSeed } from './ed25519';
import { signatureKeyIds, signJson, verifyJsonSignature } from './sign-json';

const key = signingKeyFromSeed(SPEC_SIGNING_KEY.seed_base64, SPEC_SIGNING_KEY.key_id);

describe('signing JSON', () => {
  const cases = specVectors('json_signing');

  it('has the spec vectors', () => {
    expect(cases.length).toBe(2);
  });

  it.each(cases.map((c) => [c.name, c]))('%s', (_name, c) => {
    const signed = signJson(c.input as Record<string, unknown>, 'domain', key);
    expect(canonicalJson(signed)).toBe(canonicalJson(c.expected));
    expect(verifyJsonSignature(signed, 'domain', 'ed25519:1', key.publicKeyBase64)).toBe(true);
    // tweetnacl agrees on the same bytes
    const sig = decodeBase64(c.expected_signature as string);
    const message = canonicalJsonBytes(c.input);
    expect(nacl.sign.detached.verify(message, sig, key.publicKey)).toBe(true);
  });

  it('does not cover unsigned and keeps other signatures', () => {
    const other = generateSigningKey('x');
    const first = signJson({ a: 1, unsigned: { age: 5 } }, 'other.example', other);
    const both = signJson(first, 'domain', key);
    expect(both.unsigned).toEqual({ age: 5 });
    expect(Object.keys(both.signatures).sort()).toEqual(['domain', 'other.example']);
    expect(verifyJsonSignature(both, 'other.example', 'ed25519:x', other.publicKey)).toBe(true);
    expect(verifyJsonSignature(both, 'domain', 'ed25519:1', key.publicKey)).toBe(true);
    expect(verifyJsonSignature({ ...both, unsigned: { age: 99 } }, 'domain', 'ed25519:1', key.publicKey)).toBe(true);
    const secondKey = signJson(both, 'domain', generateSigningKey('2'));
    expect(signatureKeyIds(secondKey, 'domain')).toEqual(['ed25519:1', 'ed25519:2']);
  });

  it('fails for a changed object, a missing signature, a wrong key or a garbled signature', () => {
    const signed = signJson({ a: 1 }, 'domain', key);
    expect(verifyJsonSignature({ ...signed, a: 2 }, 'domain', 'ed25519:1', key.publicKey)).toBe(false);
    expect(verifyJsonSignature(signed, 'elsewhere', 'ed25519:1', key.publicKey)).toBe(false);
    expect(verifyJsonSignature(signed, 'domain', 'ed25519:2', key.publicKey)).toBe(false);
    expect(verifyJsonSignature(signed, 'domain', 'ed25519:1', generateSigningKey('1').publicKey)).toBe(false);
    const garbled = { ...signed, signatures: { domain: { 'ed25519:1': '!!!' } } };
    expect(verifyJsonSignature(garbled, 'domain', 'ed25519:1', key.publicKey)).toBe(false);
    expect(verifyJsonSignature({ a: 1, signatures: 'x' }, 'domain', 'ed25519:1', key.publicKey)).toBe(false);
  });

  it('in strict mode refuses to verify an object with floats', () => {
    const signed = signJson({ a: 1.5 }, 'domain', key);
    expect(verifyJsonSignature(signed, 'domain', 'ed25519:1', key.publicKey)).toBe(true);
    expect(verifyJsonSignature(signed, 'domain', 'ed25519:1', key.publicKey, { strict: true })).toBe(false);
    expect(() => signJson({ a: 1.5 }, 'domain', key, { strict: true })).toThrow();
  });
});
