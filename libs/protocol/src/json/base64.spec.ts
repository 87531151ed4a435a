import fc from 'fast-check';
import { specVectors } from '../../test-fixtures';
import {
  decodeBase64,
  decodeBase64Url,
  encodeBase64,
  encodeBase64Url,
  InvalidBase64Error,
  isUnpaddedBase64,
  isUnpaddedBase64Url,
} from './base64';

describe('unpadded base64', () => {
  const cases = specVectors('unpadded_base64');

  it('has the spec vectors', () => {
    expect(cases.length).toBe(7);
  });

  it.each(cases.map((c) => [c.name, c.input as string, c.expected as string]))('%s', (_name, input, expected) => {
    const bytes = new TextEncoder().encode(input);
    expect(encodeBase64(bytes)).toBe(expected);
    expect(Buffer.from(decodeBase64(expected)).toString('utf8')).toBe(input);
  });

  it('decodes padded input too', () => {
    expect(Buffer.from(decodeBase64('Zm8=')).toString()).toBe('fo');
    expect(Buffer.from(decodeBase64('Zg==')).toString()).toBe('f');
    expect(Buffer.from(decodeBase64Url('Zg==')).toString()).toBe('f');
  });

  it('uses - and _ in the URL-safe alphabet and + and / in the standard one', () => {
    const bytes = new Uint8Array([0xfb, 0xff, 0xbf]);
    expect(encodeBase64(bytes)).toBe('+/+/');
    expect(encodeBase64Url(bytes)).toBe('-_-_');
    expect(decodeBase64Url('-_-_')).toEqual(bytes);
    expect(() => decodeBase64('-_-_')).toThrow(InvalidBase64Error);
    expect(() => decodeBase64Url('+/+/')).toThrow(InvalidBase64Error);
  });

  it('refuses malformed input with a typed error', () => {
    for (const bad of ['Z', 'Zm9vY', 'Zg===', 'Z=g', 'Zm 9v', 'Zm8*', 'Zm9=v']) {
      expect(() => decodeBase64(bad)).toThrow(InvalidBase64Error);
    }
  });

  it('predicates tell unpadded base64 apart', () => {
    expect(isUnpaddedBase64('Zm9vYg')).toBe(true);
    expect(isUnpaddedBase64('Zm9vYg==')).toBe(false);
    expect(isUnpaddedBase64('Zm9vY')).toBe(false);
    expect(isUnpaddedBase64Url('a-_b')).toBe(true);
    expect(isUnpaddedBase64Url('a+/b')).toBe(false);
  });

  it('round-trips any bytes in both alphabets (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const std = encodeBase64(bytes);
        const url = encodeBase64Url(bytes);
        expect(std).not.toContain('=');
        expect(url).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(decodeBase64(std)).toEqual(bytes);
        expect(decodeBase64Url(url)).toEqual(bytes);
        expect(isUnpaddedBase64(std)).toBe(true);
        expect(std.length).toBe(Math.ceil((bytes.length * 4) / 3));
      }),
    );
  });
});
