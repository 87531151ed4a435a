import { SPEC_SIGNING_KEY } from '../../test-fixtures';
import { generateSigningKey } from './ed25519';
import { formatSigningKeyFile, formatSigningKeyLine, InvalidKeyFileError, parseSigningKeyFile } from './key-file';

describe('signing key file', () => {
  it('parses the Synapse line format', () => {
    const [key] = parseSigningKeyFile(`ed25519 1 ${SPEC_SIGNING_KEY.seed_base64}\n`);
    expect(key.keyId).toBe('ed25519:1');
    expect(key.publicKeyBase64).toBe(SPEC_SIGNING_KEY.derived_public_key_base64);
  });

  it('round-trips several keys, skipping blank and comment lines', () => {
    const keys = [generateSigningKey('a_1'), generateSigningKey('b2')];
    const text = formatSigningKeyFile(keys);
    expect(text.split('\n')).toHaveLength(3);
    expect(formatSigningKeyLine(keys[0])).toMatch(/^ed25519 a_1 [A-Za-z0-9+/]{43}$/);
    const parsed = parseSigningKeyFile(`# our keys\n\n${text}\r\n`);
    expect(parsed.map((k) => [k.keyId, k.publicKeyBase64])).toEqual(keys.map((k) => [k.keyId, k.publicKeyBase64]));
  });

  it('reports the bad line', () => {
    expect(() => parseSigningKeyFile('ed25519 1')).toThrow(InvalidKeyFileError);
    expect(() => parseSigningKeyFile('\nrsa 1 AAAA')).toThrow(expect.objectContaining({ line: 2 }));
    expect(() => parseSigningKeyFile('ed25519 a-b AAAA')).toThrow(InvalidKeyFileError);
    expect(() => parseSigningKeyFile('ed25519 1 AAAA')).toThrow(expect.objectContaining({ reason: expect.stringContaining('32 bytes') }));
  });
});
