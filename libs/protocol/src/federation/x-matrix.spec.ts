import fc from 'fast-check';
import nacl from 'tweetnacl';
import { canonicalJsonBytes } from '../json/canonical-json';
import { decodeBase64, encodeBase64 } from '../json/base64';
import { generateSigningKey } from '../crypto/ed25519';
import {
  formatXMatrixHeader,
  InvalidXMatrixHeaderError,
  parseXMatrixHeader,
  requestSigningObject,
  signRequest,
  verifyRequestSignature,
} from './x-matrix';

const SIG = encodeBase64(new Uint8Array(64).fill(7));

function reason(header: string): string {
  try {
    parseXMatrixHeader(header);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidXMatrixHeaderError);
    return (error as InvalidXMatrixHeaderError).reason;
  }
  throw new Error(`expected ${header} to be refused`);
}

describe('X-Matrix header', () => {
  it('parses the form of the spec example', () => {
    expect(parseXMatrixHeader(`X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="${SIG}"`)).toEqual({
      origin: 'origin.hs.example.com',
      destination: 'destination.hs.example.com',
      key: 'ed25519:key1',
      sig: SIG,
    });
  });

  it('takes names in any case and order, bare values with colons, spaces around separators, escapes and unknown parameters', () => {
    const header = `x-matrix   Key=ed25519:a_1 , SIG="${SIG}",\tfoo="b\\"ar", origin=example.org:8448,,destination = "d\\.org"`;
    expect(parseXMatrixHeader(header)).toEqual({ origin: 'example.org:8448', destination: 'd.org', key: 'ed25519:a_1', sig: SIG });
  });

  it('accepts a header without destination (servers before v1.3) and the `signature` spelling of the spec prose', () => {
    expect(parseXMatrixHeader(`X-Matrix origin=a.org,key="ed25519:1",signature="${SIG}"`)).toEqual({ origin: 'a.org', key: 'ed25519:1', sig: SIG });
  });

  it.each([
    ['', /scheme/],
    [`Bearer abc`, /scheme/],
    [`X-Matrixorigin=a.org`, /scheme/],
    [`X-Matrix key="ed25519:1",sig="${SIG}"`, /no origin/],
    [`X-Matrix origin=a.org,sig="${SIG}"`, /no key/],
    [`X-Matrix origin=a.org,key="ed25519:1"`, /no sig/],
    [`X-Matrix origin=a.org,origin=b.org,key="ed25519:1",sig="${SIG}"`, /twice/],
    [`X-Matrix origin="a.org,key="ed25519:1",sig="${SIG}"`, /expected ","|unexpected/],
    [`X-Matrix origin="a.org`, /unterminated/],
    [`X-Matrix origin="a\u0000.org",key="ed25519:1",sig="${SIG}"`, /control character/],
    [`X-Matrix origin="a\\`, /bad escape/],
    [`X-Matrix origin=,key="ed25519:1",sig="${SIG}"`, /empty value/],
    [`X-Matrix origin,key="ed25519:1",sig="${SIG}"`, /no value/],
    [`X-Matrix origin="bad host!",key="ed25519:1",sig="${SIG}"`, /origin is not a valid server name/],
    [`X-Matrix origin=a.org,destination="x y",key="ed25519:1",sig="${SIG}"`, /destination is not a valid server name/],
    [`X-Matrix origin=a.org,key="ed25519",sig="${SIG}"`, /bad key id/],
    [`X-Matrix origin=a.org,key="rsa:1",sig="${SIG}"`, /unsupported key algorithm/],
    [`X-Matrix origin=a.org,key="ed25519:1",sig="***"`, /not base64/],
    [`X-Matrix origin=a.org,key="ed25519:1",sig="AAAA"`, /64-byte/],
    [`X-Matrix origin=a.org,key="ed25519:1",sig="${SIG}" junk`, /expected ","/],
    [`X-Matrix ${'a=b,'.repeat(3000)}`, /too long/],
  ])('refuses %j', (header, expected) => {
    expect(reason(header)).toMatch(expected);
  });

  it('never throws anything but InvalidXMatrixHeaderError, whatever the input (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (tail) => {
        for (const header of [tail, `X-Matrix ${tail}`, `X-Matrix origin="${tail}",key="ed25519:1",sig="${SIG}"`]) {
          try {
            parseXMatrixHeader(header);
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidXMatrixHeaderError);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('formats what it parses, escaping quotes and backslashes', () => {
    const auth = { origin: 'a.org:8448', destination: '[::1]:8448', key: 'ed25519:a_1', sig: SIG };
    const header = formatXMatrixHeader(auth);
    expect(header).toBe(`X-Matrix origin="a.org:8448",destination="[::1]:8448",key="ed25519:a_1",sig="${SIG}"`);
    expect(parseXMatrixHeader(header)).toEqual(auth);
    expect(formatXMatrixHeader({ ...auth, origin: 'a"b\\c' })).toContain('origin="a\\"b\\\\c"');
  });
});

describe('request signatures', () => {
  const key = generateSigningKey('k1');
  const request = { method: 'PUT', uri: '/_matrix/federation/v1/send/1?x=%20y', origin: 'a.org', destination: 'b.org', content: { pdus: [], n: 1 } };

  it('covers method, uri, origin, destination and content, and omits absent ones', () => {
    expect(requestSigningObject(request)).toEqual(request);
    expect(requestSigningObject({ method: 'GET', uri: '/x', origin: 'a.org' })).toEqual({ method: 'GET', uri: '/x', origin: 'a.org' });
  });

  it('signs exactly as tweetnacl over the canonical JSON, and verifies', () => {
    const header = signRequest(request, key);
    const auth = parseXMatrixHeader(header);
    expect(auth).toMatchObject({ origin: 'a.org', destination: 'b.org', key: 'ed25519:k1' });
    const message = canonicalJsonBytes(requestSigningObject(request));
    const theirs = nacl.sign.detached(message, nacl.sign.keyPair.fromSeed(key.seed).secretKey);
    expect(auth.sig).toBe(encodeBase64(theirs));
    expect(nacl.sign.detached.verify(message, decodeBase64(auth.sig), key.publicKey)).toBe(true);
    expect(verifyRequestSignature(request, auth, key.publicKeyBase64)).toBe(true);
  });

  it('fails for any change of method, uri, content, destination or key', () => {
    const auth = parseXMatrixHeader(signRequest(request, key));
    expect(verifyRequestSignature({ ...request, method: 'POST' }, auth, key.publicKey)).toBe(false);
    expect(verifyRequestSignature({ ...request, uri: '/_matrix/federation/v1/send/2' }, auth, key.publicKey)).toBe(false);
    expect(verifyRequestSignature({ ...request, content: { pdus: [], n: 2 } }, auth, key.publicKey)).toBe(false);
    expect(verifyRequestSignature({ method: request.method, uri: request.uri }, auth, key.publicKey)).toBe(false);
    expect(verifyRequestSignature(request, { ...auth, destination: 'c.org' }, key.publicKey)).toBe(false);
    expect(verifyRequestSignature(request, { ...auth, origin: 'c.org' }, key.publicKey)).toBe(false);
    expect(verifyRequestSignature(request, auth, generateSigningKey('k2').publicKey)).toBe(false);
  });
});
